using System.Collections.Immutable;
using BtwBackup.Config;
using BtwBackup.Platform;
using BtwBackup.Tools;

namespace BtwBackup.Backup;

/// <summary>Tells whether a new file holds the same data as the one stored last.</summary>
public interface IContentComparer
{
    Task<bool> SameAsync(string newFile, string storedFile, CancellationToken ct);
}

/// <summary>Byte-for-byte, streaming.</summary>
public sealed class ByteComparer : IContentComparer
{
    public static readonly ByteComparer Instance = new();

    public Task<bool> SameAsync(string newFile, string storedFile, CancellationToken ct) => FileContent.SameAsync(newFile, storedFile, ct);
}

/// <summary>
/// An rdiff-backup series: DST/&lt;full-backup-time&gt;/ folders, each an rdiff-backup repository of
/// one file (backup.tar, DB.dump, global.sql.bz2) that receives increments until the policy asks
/// for a new full backup. A new full backup is made under a hidden partial name and renamed when
/// complete. An increment that fails (a full disk) is rolled back at once; one that was killed is
/// rolled back by the next backup, before anything else (<see cref="RdiffRepository.RepairAsync"/>).
/// </summary>
public sealed class RdiffSeries(RdiffBackup rdiff, IClock clock)
{
    /// <param name="scratchDir">A folder holding exactly the one file to store.</param>
    /// <param name="fileName">That file's name.</param>
    /// <param name="beforeChange">Called with the series folder about to receive an increment, before rdiff-backup touches it (write-ahead of the sync intent).</param>
    public async Task<BackupOutcome> StoreAsync(
        string scratchDir,
        string fileName,
        SeriesLocation series,
        SeriesPolicy policy,
        IContentComparer comparer,
        Ownership? owner,
        IProgress<string>? progress,
        CancellationToken ct,
        Func<PendingPath, CancellationToken, Task>? beforeChange = null)
    {
        try
        {
            return await StoreCoreAsync(scratchDir, fileName, series, policy, comparer, owner, progress, ct, beforeChange);
        }
        catch (Exception e) when (DiskSpace.IsTooFullFor(e, series.FullPath, SizeOf(Path.Combine(scratchDir, fileName))))
        {
            // Whatever was written is gone already (a failed increment rolled back, a partial full backup removed).
            throw DiskSpace.NoSpace(series.FullPath);
        }
    }

    private static long SizeOf(string file) => File.Exists(file) ? new FileInfo(file).Length : 0;

    private async Task<BackupOutcome> StoreCoreAsync(
        string scratchDir,
        string fileName,
        SeriesLocation series,
        SeriesPolicy policy,
        IContentComparer comparer,
        Ownership? owner,
        IProgress<string>? progress,
        CancellationToken ct,
        Func<PendingPath, CancellationToken, Task>? beforeChange)
    {
        var dir = series.FullPath;
        var newFile = Path.Combine(scratchDir, fileName);
        var lastFull = SeriesNames.List(dir).LastOrDefault(n => !n.EndsWith(SeriesNames.TarSuffix, StringComparison.Ordinal));
        var lastFullPath = lastFull is null ? null : Path.Combine(dir, lastFull);

        var taken = new List<DateTime>();
        var increments = 0;
        var repairs = ImmutableList<string>.Empty;
        if (lastFull is not null)
        {
            repairs = [.. await RdiffRepository.RepairAsync(rdiff, lastFullPath!, ct)];
            progress?.Report($"rdiff-backup: reading {series.Relative(lastFull)}");
            var times = await rdiff.ListBackupTimesAsync(lastFullPath!, ct);
            increments = Math.Max(0, times.Count - 1);
            taken.Add(SeriesNames.TimeOf(lastFull));
            taken.AddRange(times);
        }

        var now = await clock.NextFreeSecondAsync(taken, ct);
        var kind = BackupDecision.Decide(now, lastFull is null ? null : SeriesNames.TimeOf(lastFull), increments, policy);
        var stored = lastFullPath is null ? null : Path.Combine(lastFullPath, fileName);

        progress?.Report("comparing with the last backup");
        var same = stored is not null && File.Exists(stored) && await comparer.SameAsync(newFile, stored, ct);
        var name = SeriesNames.Of(now);
        var logPath = new PendingPath(series.Relative(SeriesNames.LogFileName), Sync: false);
        var size = new FileInfo(newFile).Length;

        if (kind == BackupKind.Increment)
        {
            if (same)
            {
                await SeriesLog.AppendAsync(series, name + SeriesLog.NoChange + "skipping creation of new incremental backup", owner, ct);
                return new BackupOutcome(BackupResultKind.Unchanged, lastFull!, 0, repairs, [logPath]);
            }

            // rdiff-backup skips a file whose size and whole-second mtime match the mirror's;
            // we know the content differs, so make the mtime say so.
            File.SetLastWriteTimeUtc(newFile, now);
            var pending = new PendingPath(series.Relative(lastFull!) + "/", Sync: true);
            if (beforeChange is not null)
                await beforeChange(pending, ct);
            progress?.Report($"rdiff-backup: storing an increment in {series.Relative(lastFull!)}");
            IReadOnlyList<string> warnings;
            try
            {
                warnings = await rdiff.BackupAsync(scratchDir, lastFullPath!, ct);
            }
            catch (Exception e) when (e is ToolFailedException or OperationCanceledException or IOException)
            {
                // Leave the series as it was: the temporary files hold the space that ran out, and
                // two current_mirror markers would stop every later backup until a regress.
                await RollBackAsync(lastFullPath!);
                throw;
            }

            if (owner is not null)
                Posix.ChownTree(lastFullPath!, owner);
            // Announced already when there is someone to announce to.
            return new BackupOutcome(BackupResultKind.StoredIncrement, lastFull!, size, [.. repairs, .. warnings], beforeChange is null ? [pending] : []);
        }

        if (same)
        {
            await SeriesLog.AppendAsync(series, name + SeriesLog.NoChange + "skipping creation of new full backup", owner, ct);
            return new BackupOutcome(BackupResultKind.Unchanged, lastFull!, 0, repairs, [logPath]);
        }

        var partial = Path.Combine(dir, "." + name + ".partial");
        IReadOnlyList<string> fullWarnings;
        try
        {
            progress?.Report($"rdiff-backup: storing a full backup {series.Relative(name)}");
            fullWarnings = await rdiff.BackupAsync(scratchDir, partial, ct);
            if (owner is not null)
                Posix.ChownTree(partial, owner);
            Directory.Move(partial, Path.Combine(dir, name));
        }
        finally
        {
            if (Directory.Exists(partial))
                Directory.Delete(partial, recursive: true);
        }

        return new BackupOutcome(BackupResultKind.StoredFull, name, size, [.. repairs, .. fullWarnings],
            [new PendingPath(series.Relative(name) + "/", Sync: false)]);
    }

    /// <summary>Rolls back a failed increment now; when that fails too, the next backup does it first.</summary>
    private async Task RollBackAsync(string repository)
    {
        try
        {
            await RdiffRepository.RepairAsync(rdiff, repository, CancellationToken.None);
        }
        catch (Exception e) when (e is ToolFailedException or BackupException or IOException or UnauthorizedAccessException)
        {
            // The original failure is the one to report; the repository stays marked as interrupted.
        }
    }
}
