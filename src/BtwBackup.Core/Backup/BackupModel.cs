using System.Collections.Immutable;
using BtwBackup.Config;
using BtwBackup.Platform;

namespace BtwBackup.Backup;

/// <summary>Where a backup goes: ROOT/DST, and DST itself (relative, for log lines and sync paths).</summary>
public sealed record SeriesLocation(string RootPath, string Dst)
{
    public string FullPath => Path.Combine(RootPath, Dst);

    /// <summary>The path of an entry of the series, relative to root (the key it gets off-site).</summary>
    public string Relative(string name) => Path.Combine(Dst, name);
}

/// <summary>Backs up one file tree (a working folder) into a series.</summary>
public sealed record FileTreeJob(WorkingFolder Folder, SeriesLocation Series, Ownership? Owner);

public enum BackupResultKind
{
    /// <summary>A new full backup: a folder (rdiff) or a .tbz file (tar).</summary>
    StoredFull,

    /// <summary>An increment on the newest full backup.</summary>
    StoredIncrement,

    /// <summary>Identical to the last stored backup: nothing stored, a line in log.txt.</summary>
    Unchanged,
}

/// <summary>
/// A path under root that off-site copies must learn about: <c>Push</c> uploads it as it is
/// (a new file or folder); <c>Sync</c> makes the remote folder equal to the local one.
/// </summary>
public sealed record PendingPath(string Path, bool Sync);

/// <summary>What a backup did.</summary>
public sealed record BackupOutcome(
    BackupResultKind Kind,
    string Name,
    long Bytes,
    ImmutableList<string> Warnings,
    ImmutableList<PendingPath> Changed);
