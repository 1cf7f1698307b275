using BtwBackup.Config;

namespace BtwBackup.Backup;

public enum BackupKind
{
    Full,
    Increment,
}

/// <summary>The original's rule for an rdiff series: when the next backup is a new full backup.</summary>
public static class BackupDecision
{
    /// <param name="nowUtc">The time of the new backup, whole seconds.</param>
    /// <param name="lastFullTime">The start time of the newest full backup (its folder name), if any.</param>
    /// <param name="incrementCount">How many increments that full backup has received.</param>
    public static BackupKind Decide(DateTime nowUtc, DateTime? lastFullTime, int incrementCount, SeriesPolicy policy)
    {
        if (lastFullTime is null)
            return BackupKind.Full;
        return incrementCount < policy.MaxIncrementalCount && nowUtc - lastFullTime.Value < policy.MaxIncrementalSpan
            ? BackupKind.Increment
            : BackupKind.Full;
    }
}
