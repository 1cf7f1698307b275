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

    private static readonly string? At = Environment.GetEnvironmentVariable(Variable);

    public static void Reach(string point)
    {
        if (At == point)
            Process.GetCurrentProcess().Kill();
    }
}
