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

        EnsureSeriesFolder(job.Series, job.Owner);

        if (job.Folder.Type == SourceType.Tar)
            return await tarSeries.BackupAsync(source, job.Series, job.Owner, progress, ct);

        var scratch = job.Folder.BackupDir;
        Directory.CreateDirectory(scratch);
        var archive = Path.Combine(scratch, RdiffFileName);
        try
        {
            progress?.Report($"tar: archiving {source}");
            IReadOnlyList<string> warnings;
            try
            {
                warnings = await tar.CreateAsync(source, archive, bzip2: false, ct);
            }
            catch (Exception e) when (DiskSpace.IsTarShortOfSpace(e, scratch))
            {
                throw DiskSpace.NoSpace(scratch);
            }

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

    internal static void EnsureSeriesFolder(SeriesLocation series, Ownership? owner)
    {
        if (!Directory.Exists(series.RootPath))
            throw new BackupException($"the root path does not exist: {series.RootPath}");
        var dir = series.FullPath;
        if (Directory.Exists(dir))
        {
            RemoveStalePartials(dir);
            return;
        }

        Directory.CreateDirectory(dir);
        if (owner is not null)
            Posix.Chown(dir, owner);
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
