using System.Globalization;

namespace BtwBackup.Logging;

/// <summary>Appends timestamped lines to the log file of the configuration directory (and, for the daemon, to stdout). Thread-safe.</summary>
public sealed class LogFile(string path, TextWriter? echo = null)
{
    private readonly Lock _gate = new();

    public string Path { get; } = path;

    /// <summary>Appends one line; false when the file could not be written (never an exception).</summary>
    public bool Write(string level, string source, string message)
    {
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{DateTime.UtcNow:yyyy-MM-dd'T'HH:mm:ss.fff'Z'} {level,-7} [{Environment.ProcessId}] {source}: {message}\n");
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
}
