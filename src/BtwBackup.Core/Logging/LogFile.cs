using System.Globalization;

namespace BtwBackup.Logging;

/// <summary>Appends timestamped lines to the log file of the configuration directory (and, for the daemon, to stdout). Thread-safe.</summary>
public sealed class LogFile(string path, TextWriter? echo = null)
{
    private readonly Lock _gate = new();

    public string Path { get; } = path;

    /// <summary>
    /// Appends one entry; false when the file could not be written (never an exception). Text
    /// from outside (a sender's address, a file name) may be in it: a line break only ever
    /// continues the entry (indented, so that no line of it can pass for an entry of its own),
    /// and every other control character is shown as <c>\xNN</c>.
    /// </summary>
    public bool Write(string level, string source, string message)
    {
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{DateTime.UtcNow:yyyy-MM-dd'T'HH:mm:ss.fff'Z'} {level,-7} [{Environment.ProcessId}] {Entry(source)}: {Entry(message)}\n");
        lock (_gate)
        {
            echo?.Write(line);
            try
            {
                File.AppendAllText(Path, line);
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The log is never a reason for a backup to fail.
                return false;
            }
        }
    }

    /// <summary>Continuation lines indented, control characters shown.</summary>
    internal static string Entry(string text)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        return string.Join("\n    ", lines.Select(Protocol.TerminalText.Printable));
    }
}
