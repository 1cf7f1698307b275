using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace BtwBackup.Platform;

/// <summary>Who listens on a TCP port: for a message that names the process, read from /proc (complete when run as root).</summary>
public static class PortHolder
{
    /// <summary>True when this process could listen on the address alone (no SO_REUSEADDR, so no sharing).</summary>
    public static bool IsFree(IPAddress address, int port)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(1);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>"pid N (command)" of a process listening on the port, or null when /proc does not tell.</summary>
    public static string? Describe(int port)
    {
        try
        {
            var inodes = ListeningInodes(port);
            if (inodes.Count == 0)
                return null;
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                    continue;
                try
                {
                    foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(dir, "fd")))
                    {
                        var target = new FileInfo(fd).LinkTarget;
                        if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal) && inodes.Contains(target[8..^1]))
                            return $"pid {pid} ({Command(dir)})";
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Another user's process: only root sees its descriptors.
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }

    private static HashSet<string> ListeningInodes(int port)
    {
        const string Listen = "0A";
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
                continue;
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 10 || fields[3] != Listen)
                    continue;
                var local = fields[1];
                var colon = local.LastIndexOf(':');
                if (colon > 0 && int.TryParse(local[(colon + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var p) && p == port)
                    inodes.Add(fields[9]);
            }
        }

        return inodes;
    }

    private static string Command(string procDir)
    {
        try
        {
            var args = File.ReadAllText(Path.Combine(procDir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
            var text = string.Join(' ', args);
            return text.Length > 80 ? text[..80] + "…" : text;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "?";
        }
    }
}
