using System.Collections.Immutable;
using BtwBackup.Config;
using BtwBackup.Platform;
using BtwBackup.Series;
using BtwBackup.Tools;

namespace BtwBackup.Backup;

/// <summary>Runs one backup job. Implementations are plain async code; actors only sequence them.</summary>
public interface IBackupProcedure
{
    Task<BackupOutcome> RunAsync(BackupJob job, IProgress<string>? progress, CancellationToken ct);
}

/// <summary>Sends each kind of job to its procedure.</summary>
public sealed class BackupProcedures(FileTreeBackup fileTrees, DatabaseBackup databases) : IBackupProcedure
{
    public Task<BackupOutcome> RunAsync(BackupJob job, IProgress<string>? progress, CancellationToken ct) => job switch
    {
        FileTreeJob f => fileTrees.RunAsync(f, progress, ct),
        DatabaseJob d => databases.RunAsync(d, progress, ct),
        _ => throw new ArgumentException("unknown job " + job.GetType().Name, nameof(job)),
    };
}

/// <summary>A file tree, as the original did it: tar series, or a tar stored with rdiff-backup.</summary>
public sealed class FileTreeBackup(Tar tar, TarSeries tarSeries, RdiffSeries rdiffSeries)
{
    public const string RdiffFileName = "backup.tar";

    public async Task<BackupOutcome> RunAsync(FileTreeJob job, IProgress<string>? progress, CancellationToken ct)
    {
        var source = job.Folder.Source;
        if (!Directory.Exists(source))
        {
            throw new BackupException(File.Exists(source)
                ? $"the source is not a directory: {source}"
                : $"cannot read the source {source}: no such directory");
        }

        var created = EnsureSeriesFolder(job.Series, job.Owner);
        try
        {
            return await StoreAsync(job, source, progress, ct);
        }
        catch
        {
            RemoveIfEmpty(created);
            throw;
        }
    }

    private async Task<BackupOutcome> StoreAsync(FileTreeJob job, string source, IProgress<string>? progress, CancellationToken ct)
    {
        if (job.Folder.Type == SourceType.Tar)
            return await tarSeries.BackupAsync(source, job.Series, job.Owner, progress, ct);

        var scratch = job.Folder.BackupDir;
        Directory.CreateDirectory(scratch);
        var archive = Path.Combine(scratch, RdiffFileName);
        try
        {
            progress?.Report($"tar: archiving {source}");
            var warnings = await tar.CreateAsync(source, archive, bzip2: false, ct);
            if (job.Owner is not null)
                Posix.Chown(archive, job.Owner);
            var outcome = await rdiffSeries.StoreAsync(scratch, RdiffFileName, job.Series, job.Folder.Policy, ByteComparer.Instance, job.Owner, progress, ct, job.Announce);
            return outcome with { Warnings = outcome.Warnings.AddRange(warnings) };
        }
        finally
        {
            // The scratch tar is a full copy of the tree: do not keep it between backups.
            if (File.Exists(archive))
                File.Delete(archive);
        }
    }

    /// <summary>Makes ROOT/DST if needed; gives the topmost folder it made (DST or a parent of it), null when DST was there.</summary>
    internal static string? EnsureSeriesFolder(SeriesLocation series, Ownership? owner)
    {
        if (!Directory.Exists(series.RootPath))
            throw new BackupException($"the root path does not exist: {series.RootPath}");
        var dir = series.FullPath;
        if (Directory.Exists(dir))
        {
            RemoveStalePartials(dir);
            return null;
        }

        var top = dir;
        var root = Path.TrimEndingDirectorySeparator(series.RootPath);
        for (var parent = Path.GetDirectoryName(dir); parent is not null && parent.Length > root.Length && !Directory.Exists(parent); parent = Path.GetDirectoryName(parent))
            top = parent;
        Directory.CreateDirectory(dir);
        if (owner is not null)
            Posix.Chown(dir, owner);
        return top;
    }

    /// <summary>
    /// After a failed backup: removes the folders <see cref="EnsureSeriesFolder"/> made when
    /// nothing was stored in them, so that a failure leaves root as it found it. A folder
    /// holding anything (a file, a link) is left alone.
    /// </summary>
    internal static void RemoveIfEmpty(string? created)
    {
        if (created is null)
            return;
        try
        {
            var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 };
            var onlyFolders = Directory.EnumerateFileSystemEntries(created, "*", options)
                .All(e => (File.GetAttributes(e) & (FileAttributes.Directory | FileAttributes.ReparsePoint)) == FileAttributes.Directory);
            if (onlyFolders)
                Directory.Delete(created, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind, empty: the next backup of the series uses it.
        }
    }

    /// <summary>
    /// A process killed mid-backup (kill -9, power loss) leaves its hidden partial entry behind;
    /// the next backup of the series, which holds the configuration directory's lock, removes it.
    /// </summary>
    internal static void RemoveStalePartials(string dir)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir, ".*.partial"))
        {
            var name = Path.GetFileName(entry);
            if (!SeriesNames.IsBackupName(name[1..]))
                continue;
            if (Directory.Exists(entry))
                Directory.Delete(entry, recursive: true);
            else
                File.Delete(entry);
        }
    }
}

/// <summary>A backup that cannot be done for a reason the user can act on: one line, exit 1.</summary>
public sealed class BackupException(string message) : Exception(message);
