using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.Tools;

namespace BtwBackup.Protocol;

/// <summary>Turns an exception into the lines a user reads (each prefixed by the CLI with "btw-backup: " where needed).</summary>
public static class ErrorReport
{
    public const string Prefix = "btw-backup: ";

    /// <summary>An error line without the program's prefix, to be quoted inside another line.</summary>
    public static string Bare(string line) => line.StartsWith(Prefix, StringComparison.Ordinal) ? line[Prefix.Length..] : line;

    /// <summary>True for errors a user causes and can fix; anything else is a bug and its trace goes to the log.</summary>
    public static bool IsExpected(Exception e) =>
        Unwrap(e) is ConfigException or BackupException or ToolFailedException or ToolMissingException or IOException or UnauthorizedAccessException
            or Sync.MirrorException or ObjectStore.ObjectStoreException or Sync.SyncJournalDamagedException;

    /// <summary>The lines for <paramref name="e"/>; <paramref name="logged"/>: its details are in the log (an unexpected error then says so).</summary>
    public static IReadOnlyList<string> Lines(Exception e, bool logged = true)
    {
        e = Unwrap(e);
        return e switch
        {
            // The program's own words first, then ours, as the original printed pg_dump's failure.
            ToolFailedException t => [.. t.StderrLines(), Prefix + t.Message],
            OperationCanceledException => [Prefix + "interrupted"],
            _ when IsExpected(e) => [Prefix + e.Message],
            _ => [Prefix + "unexpected error: " + e.Message.ReplaceLineEndings(" ") + (logged ? " (the log has the details)" : "")],
        };
    }

    public static Exception Unwrap(Exception e)
    {
        while (true)
        {
            switch (e)
            {
                case AggregateException { InnerExceptions.Count: 1 } a:
                    e = a.InnerExceptions[0];
                    continue;
                case SourceCrashedException { InnerException: { } inner }:
                    e = inner;
                    continue;
                default:
                    return e;
            }
        }
    }
}

/// <summary>Thrown by a SourceActor whose backup failed, so that its supervisor restarts it clean.</summary>
public sealed class SourceCrashedException(string source, Exception cause)
    : Exception($"source {source} failed: {cause.Message}", cause);
