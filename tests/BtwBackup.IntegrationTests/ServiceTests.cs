using System.Net.Sockets;
using System.Text;
using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>systemd/btw-backup.service as systemd reads it, and the daemon's side of Type=notify.</summary>
public sealed class ServiceTests : IDisposable
{
    private readonly Sandbox _box = new();

    public void Dispose() => _box.Dispose();

    private static string Unit()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "systemd", "btw-backup.service");
            if (File.Exists(candidate))
                return candidate;
        }

        throw new InvalidOperationException("systemd/btw-backup.service not found");
    }

    [Fact]
    public async Task The_unit_passes_systemd_analyze_verify_without_a_word()
    {
        // The unit names the installed binary; here the published one stands in for it.
        var text = File.ReadAllText(Unit());
        Assert.Contains("ExecStart=/opt/btw-backup/btw-backup --config-dir /etc/btw-backup serve", text, StringComparison.Ordinal);
        var unit = Path.Combine(_box.Dir, "btw-backup.service");
        File.WriteAllText(unit, text.Replace("/opt/btw-backup/btw-backup", Sandbox.Exe, StringComparison.Ordinal));

        var verify = await Sandbox.ShellAsync("systemd-analyze", "verify", unit);
        // verify exits 0 on a directive it ignores: a clean unit is one it says nothing about.
        Assert.True(verify.ExitCode == 0 && verify.Stdout.Length == 0 && verify.Stderr.Length == 0, verify.ToString());

        // And it does say something of a broken one: the check can fail.
        File.WriteAllText(unit, text.Replace("/opt/btw-backup/btw-backup", Sandbox.Exe, StringComparison.Ordinal).Replace("Type=notify", "Type=notifi", StringComparison.Ordinal));
        Assert.Contains("Failed to parse service type", (await Sandbox.ShellAsync("systemd-analyze", "verify", unit)).Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_daemon_tells_systemd_it_is_ready_once_it_answers_and_that_it_stops_on_SIGTERM()
    {
        var port = Sandbox.FreePort();
        _box.WriteConfig($"root-path = \"{_box.Root}\"\ndaemon {{ port = {port} }}\n");
        var socketPath = Path.Combine(_box.Dir, "notify.sock");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        _box.Environment = new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = socketPath };

        await using var daemon = await DaemonProcess.StartAsync(_box);
        var ready = await ReceiveAsync(socket);
        Assert.StartsWith("READY=1\n", ready, StringComparison.Ordinal);
        Assert.Contains($"MAINPID={daemon.Pid}", ready, StringComparison.Ordinal);
        // Ready means answering: a command goes through the daemon at once.
        var status = await _box.RunAsync("status");
        Assert.Matches($@"^daemon: serving on 127\.0\.0\.1:{port} since .*pid {daemon.Pid}", status.Stdout);

        await daemon.TerminateAsync();
        Assert.StartsWith("STOPPING=1\n", await ReceiveAsync(socket), StringComparison.Ordinal);
        Assert.Equal(0, daemon.ExitCode);
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }
}
