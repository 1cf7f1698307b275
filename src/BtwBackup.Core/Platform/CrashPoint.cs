using System.Diagnostics;

namespace BtwBackup.Platform;

/// <summary>
/// A fault-injection seam for the tests of crash recovery: when the environment variable
/// <c>BTW_BACKUP_CRASH_AT</c> names a point, the process kills itself there with SIGKILL, as a
/// <c>kill -9</c> or a power cut would (no finally block, no flush). Unset, it does nothing.
/// Whoever can set the environment of btw-backup can already stop it; nothing else reaches this.
/// </summary>
public static class CrashPoint
{
    public const string Variable = "BTW_BACKUP_CRASH_AT";

    /// <summary>After every destination journaled the prune's plan, before anything is removed.</summary>
    public const string PrunePlanned = "prune-planned";

    /// <summary>After an archive or folder was renamed to its hidden name, before it is deleted.</summary>
    public const string PruneHidden = "prune-hidden";

    /// <summary>After rdiff-backup removed a folder's old increments, before the folder is renamed.</summary>
    public const string PruneIncrementsRemoved = "prune-increments-removed";

    /// <summary>After the first object a sync deletes on a destination.</summary>
    public const string SyncDeleted = "sync-deleted";

    /// <summary>After the 3rd object this process uploaded: some of a folder stored, the rest in flight or not begun.</summary>
    public const string SyncUploaded = "sync-uploaded";

    /// <summary>After the first object <c>sync --full</c> stored ahead of its actors (see <c>UploadsAhead</c>), before they journal anything.</summary>
    public const string SyncUploadedAhead = "sync-uploaded-ahead";

    private static readonly string? At = Environment.GetEnvironmentVariable(Variable);
    private static int _uploads;

    /// <summary>Counts an upload; at <see cref="SyncUploaded"/>, the 3rd kills the process.</summary>
    public static void Uploaded()
    {
        if (At == SyncUploaded && Interlocked.Increment(ref _uploads) == 3)
            Process.GetCurrentProcess().Kill();
    }

    public static void Reach(string point)
    {
        if (At == point)
            Process.GetCurrentProcess().Kill();
    }
}
