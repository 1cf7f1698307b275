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

/// <summary>One backup to make: of what, into which series, for which owner.</summary>
public abstract record BackupJob(SeriesLocation Series, Ownership? Owner)
{
    /// <summary>What is backed up, for log lines and messages: a source path, "database shop", "database globals".</summary>
    public abstract string Subject { get; }

    /// <summary>The name of the SourceActor that runs it: one actor per source.</summary>
    public abstract string SourceName { get; }
}

/// <summary>Backs up one file tree (a working folder) into a series.</summary>
public sealed record FileTreeJob(WorkingFolder Folder, SeriesLocation Series, Ownership? Owner) : BackupJob(Series, Owner)
{
    public override string Subject => Folder.Source;

    public override string SourceName => Folder.Name;
}

/// <summary>Backs up one PostgreSQL database (<see cref="DatabaseTarget.Database"/> set) or the globals.</summary>
public sealed record DatabaseJob(DatabaseTarget Target, SeriesLocation Series, Ownership? Owner) : BackupJob(Series, Owner)
{
    public override string Subject => Target.Database is { } db ? "database " + db : "database globals";

    public override string SourceName => "db-" + (Target.Database ?? "global");
}

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
/// <see cref="Deletion"/>: instead, a path a plan of the tool removed (see SyncState.Planned),
/// which the sync of a folder holding it deletes whatever the deletion limits.
/// </summary>
public sealed record PendingPath(string Path, bool Sync, bool Deletion = false);

/// <summary>What a backup did.</summary>
public sealed record BackupOutcome(
    BackupResultKind Kind,
    string Name,
    long Bytes,
    ImmutableList<string> Warnings,
    ImmutableList<PendingPath> Changed);
