using System.Net.Sockets;
using System.Text;

namespace BtwBackup.Platform;

/// <summary>
/// sd_notify(3) without libsystemd: one datagram to the socket systemd names in NOTIFY_SOCKET
/// (a path, or an abstract name written with a leading '@'). Without NOTIFY_SOCKET (not started
/// by systemd with Type=notify) it does nothing; a socket that cannot be reached is ignored, as
/// libsystemd does: readiness is a courtesy to the service manager, never a reason to fail.
/// </summary>
public static class SystemdNotify
{
    public const string Variable = "NOTIFY_SOCKET";

    /// <summary>"READY=1" once the daemon answers, "STOPPING=1" when it begins to drain, "STATUS=..." for systemctl status.</summary>
    public static bool Send(string state)
    {
        if (Environment.GetEnvironmentVariable(Variable) is not { Length: > 0 } socketPath)
            return false;
        var path = socketPath[0] == '@' ? "\0" + socketPath[1..] : socketPath;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            socket.Send(Encoding.UTF8.GetBytes(state));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
