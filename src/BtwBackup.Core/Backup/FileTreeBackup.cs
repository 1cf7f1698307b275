using System.Collections.Immutable;
using BtwBackup.Config;
using BtwBackup.Platform;
using BtwBackup.Tools;

namespace BtwBackup.Backup;

/// <summary>Runs one backup job. Implementations are plain async code; actors only sequence them.</summary>
public interface IBackupProcedure
{
    /// <param name="announce">
    /// Records, with every destination, a series folder about to receive an increment, before
    /// rdiff-backup touches it (the write-ahead of the sync intent). Null: no destination.
    /// </param>
    Task<BackupOutcome> RunAsync(BackupJob job, IProgress<string>? progress, Func<PendingPath, CancellationToken, Task>? announce, CancellationToken ct);
}

/// <summary>Sends each kind of job to its procedure.</summary>
public sealed class BackupProcedures(FileTreeBackup fileTrees, DatabaseBackup databases) : IBackupProcedure
{
    public Task<BackupOutcome> RunAsync(BackupJob job, IProgress<string>? progress, Func<PendingPath, CancellationToken, Task>? announce, CancellationToken ct) => job switch
    {
        FileTreeJob f => fileTrees.RunAsync(f, progress, announce, ct),
        DatabaseJob d => databases.RunAsync(d, progress, announce, ct),
        _ => throw new ArgumentException("unknown job " + job.GetType().Name, nameof(job)),
    };
}

/// <summary>A file tree, as the original did it: tar series, or a tar stored with rdiff-backup.</summary>
public sealed class FileTreeBackup(Tar tar, TarSeries tarSeries, RdiffSeries rdiffSeries)
{
    public const string RdiffFileName = "backup.tar";

    /// <summary>The scratch tar of one rdiff tree, started before the actors were up; null: none.</summary>
    public ArchiveAhead? Ahead { get; init; }

    public async Task<BackupOutcome> RunAsync(FileTreeJob job, IProgress<string>? progress, Func<PendingPath, CancellationToken, Task>? announce, CancellationToken ct)
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
            return await StoreAsync(job, progress, announce, ct);
        }
        catch (Exception)
        {
            // A failed first backup leaves no empty series folder behind.
            RemoveIfEmpty(job.Series, created);
            throw;
        }
    }

    private async Task<BackupOutcome> StoreAsync(FileTreeJob job, IProgress<string>? progress, Func<PendingPath, CancellationToken, Task>? announce, CancellationToken ct)
    {
        var source = job.Folder.Source;
        if (job.Folder.Type == SourceType.Tar)
            return await tarSeries.BackupAsync(source, job.Series, job.Owner, progress, ct);

        var scratch = job.Folder.BackupDir;
        Directory.CreateDirectory(scratch);
        var archive = Path.Combine(scratch, RdiffFileName);
        try
        {
            progress?.Report($"tar: archiving {source}");
            var ahead = Ahead?.Take(source, archive);
            ScratchArchive made;
            try
            {
                made = await (ahead ?? ScratchArchive.MakeAsync(tar, source, archive, ct)).WaitAsync(ct);
            }
            catch (Exception e) when (DiskSpace.IsTarShortOfSpace(e, scratch))
            {
                throw DiskSpace.NoSpace(scratch);
            }

            if (job.Owner is not null)
                Posix.Chown(archive, job.Owner);
            IContentDigest digest = new KnownDigest(archive, made.Digest);
            var outcome = await rdiffSeries.StoreAsync(scratch, RdiffFileName, job.Series, job.Folder.Policy, digest, job.Owner, progress, ct, announce);
            return outcome with { Warnings = outcome.Warnings.AddRange(made.Warnings) };
        }
        finally
        {
            // The scratch tar is a full copy of the tree: do not keep it between backups. One made
            // ahead is removed by its owner, on another thread, while the reply goes out (the unlink
            // of 100 MB took 21-34 ms); the owner waits for that before the lock is released.
            if (Ahead?.Remove(archive) != true && File.Exists(archive))
                File.Delete(archive);
        }
    }

    /// <summary>Makes the series folder if needed; returns the outermost folder this call created (DST may be a/b), or null.</summary>
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

        var outermost = dir;
        var root = Path.TrimEndingDirectorySeparator(series.RootPath);
        for (var parent = Path.GetDirectoryName(dir); parent is not null && parent.Length > root.Length && !Directory.Exists(parent); parent = Path.GetDirectoryName(parent))
            outermost = parent;
        Directory.CreateDirectory(dir);
        if (owner is not null)
            Posix.Chown(dir, owner);
        return outermost;
    }

    /// <summary>Removes the series folder, and the parents this run created, while they are empty.</summary>
    internal static void RemoveIfEmpty(SeriesLocation series, string? createdOutermost)
    {
        if (createdOutermost is null)
            return;
        try
        {
            for (var dir = series.FullPath; dir is not null && dir.StartsWith(createdOutermost, StringComparison.Ordinal); dir = Path.GetDirectoryName(dir))
            {
                if (!Directory.Exists(dir) || Directory.EnumerateFileSystemEntries(dir).Any())
                    return;
                Directory.Delete(dir);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Only tidiness: the error being reported matters more.
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

/// <summary>A scratch tar as tar left it: its warnings (exit 1), and its SHA-256, taken as it was written.</summary>
public sealed record ScratchArchive(IReadOnlyList<string> Warnings, byte[] Digest)
{
    /// <summary>Runs tar into <paramref name="archive"/> (uncompressed, for rdiff-backup), hashing it on the way.</summary>
    public static async Task<ScratchArchive> MakeAsync(Tar tar, string source, string archive, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(archive)!);
        var (warnings, digest) = await tar.CreateWithDigestAsync(source, archive, ct);
        return new ScratchArchive(warnings, digest);
    }
}

/// <summary>
/// The scratch tar of an rdiff tree and its SHA-256, made while the actor system starts (<c>fs</c>
/// in a CLI without a daemon, under the configuration directory's lock): on two cores, tar and the
/// digest run beside the runtime loading Akka instead of after it. The procedure takes it instead of
/// running tar, once, for the very source and archive it was made for; its errors are the
/// procedure's to report, and it hands the archive back for removal when done with it
/// (<see cref="Remove"/>). Disposed (after the command's reply, before the lock is released):
/// cancelled if still running, the removal waited for, and its archive removed if nobody did.
/// </summary>
public sealed class ArchiveAhead : IAsyncDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly Task<ScratchArchive> _work;
    private int _taken;
    private Task? _removal;

    private ArchiveAhead(string source, string archive, CancellationTokenSource cts, Func<CancellationToken, Task<ScratchArchive>> work)
    {
        Source = source;
        Archive = archive;
        _cts = cts;
        _work = Task.Run(() => work(cts.Token), cts.Token);
    }

    public string Source { get; }

    public string Archive { get; }

    public static ArchiveAhead Start(Tar tar, string source, string scratchDir, CancellationToken ct)
    {
        var archive = Path.Combine(scratchDir, FileTreeBackup.RdiffFileName);
        return new ArchiveAhead(source, archive, CancellationTokenSource.CreateLinkedTokenSource(ct),
            token => ScratchArchive.MakeAsync(tar, source, archive, token));
    }

    /// <summary>The work for this source and archive, the first time it is asked for; null otherwise.</summary>
    public Task<ScratchArchive>? Take(string source, string archive) =>
        source == Source && archive == Archive && Interlocked.Exchange(ref _taken, 1) == 0 ? _work : null;

    /// <summary>
    /// Starts removing <paramref name="archive"/> when it is this one, taken and done with, on a
    /// thread of its own (see <see cref="DisposeAsync"/>, which waits for it); false otherwise
    /// (the caller removes it itself).
    /// </summary>
    public bool Remove(string archive)
    {
        if (archive != Archive || Volatile.Read(ref _taken) == 0)
            return false;
        _removal ??= Task.Run(DeleteArchive);
        return true;
    }

    private void DeleteArchive()
    {
        if (File.Exists(Archive))
            File.Delete(Archive);
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        try
        {
            await _work;
        }
        catch (Exception)
        {
            // Not taken (the command was refused first), or taken and reported by the procedure.
        }

        _cts.Dispose();
        try
        {
            if (_removal is { } removal)
                await removal;
        }
        catch (Exception)
        {
            // Tried again below, where a failure is the command's to see.
        }

        // A tar cancelled before it opened its file may have made it after the procedure's clean-up.
        DeleteArchive();
    }
}

/// <summary>The digest of one file, taken right after it was written; any other file is read.</summary>
internal sealed class KnownDigest(string file, byte[] digest) : IContentDigest
{
    public Task<byte[]?> DigestAsync(string path, CancellationToken ct) =>
        path == file ? Task.FromResult<byte[]?>(digest) : ByteDigest.Instance.DigestAsync(path, ct);
}

/// <summary>A backup that cannot be done for a reason the user can act on: one line, exit 1.</summary>
public sealed class BackupException(string message) : Exception(message);
