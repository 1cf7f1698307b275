using System.Collections.Immutable;
using BtwBackup.Config;
using BtwBackup.Platform;
using BtwBackup.Tools;

namespace BtwBackup.Backup;

/// <summary>What a new backup is compared with the last one by: a SHA-256 of the content as the comparison sees it.</summary>
public interface IContentDigest
{
    /// <summary>The digest of the file's content, or null when it cannot be taken (a dump that does not decode): then it counts as changed.</summary>
    Task<byte[]?> DigestAsync(string file, CancellationToken ct);
}

/// <summary>
/// SHA-256 of the file's bytes, streaming: plain reads of 1 MiB on a pool thread (a 100 MB tar in
/// 95 ms where asynchronous reads of 64 KiB took 120 ms, the first time in a process).
/// </summary>
public sealed class ByteDigest : IContentDigest
{
    public static readonly ByteDigest Instance = new();

    public Task<byte[]?> DigestAsync(string file, CancellationToken ct) => Task.Run(() => Sha256(file, null, ct), ct);

    /// <summary>
    /// The SHA-256 of the file, read in 1 MiB blocks, with the bytes of <paramref name="blanked"/>
    /// (offset, length) counted as zeros wherever the reads split them; null when the file ends
    /// before that range does.
    /// </summary>
    internal static byte[]? Sha256(string file, (long Offset, int Length)? blanked, CancellationToken ct)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        long position = 0;
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            ct.ThrowIfCancellationRequested();
            if (blanked is var (offset, length))
            {
                var from = (int)Math.Clamp(offset - position, 0, read);
                var to = (int)Math.Clamp(offset + length - position, 0, read);
                buffer.AsSpan(from, to - from).Clear();
            }

            sha.AppendData(buffer, 0, read);
            position += read;
        }

        return blanked is var (start, count) && position < start + count ? null : sha.GetHashAndReset();
    }
}

/// <summary>
/// An rdiff-backup series: DST/&lt;full-backup-time&gt;/ folders, each an rdiff-backup repository of
/// one file (backup.tar, DB.dump, global.sql.bz2) that receives increments until the policy asks
/// for a new full backup. A new full backup is made under a hidden partial name and renamed when
/// complete. An increment that fails (a full disk) is rolled back at once; one that was killed is
/// rolled back by the next backup, before anything else (<see cref="RdiffRepository.RepairAsync"/>).
/// Whether a new file is unchanged is decided by its digest against the one recorded in
/// <see cref="Digests"/> when the last backup was stored, so the repository is not read again.
/// </summary>
public sealed class RdiffSeries(RdiffBackup rdiff, IClock clock)
{
    public const string DigestsFileName = "stored-digests";
    /// <summary>2: a dump's digest is of its bytes (<see cref="Tools.DumpDigest"/>), no longer of its SQL; a file of 1 is read as empty, so each stored file's digest is taken again once, of the kind compared now.</summary>
    public const string DigestsMagic = "btw-backup stored-digests 2";

    /// <summary>
    /// The digest of each stored backup's file (CONFIG_DIR/stored-digests), recorded when it was
    /// stored, and given back while the file's stamp is unchanged. Null: the stored file is read
    /// at every comparison.
    /// </summary>
    public StampedDigests? Digests { get; init; }

    /// <summary>How long before a read a stored file's times must be, for its digest to be recorded then.</summary>
    public TimeSpan SettleMargin { get; init; } = TimeSpan.FromSeconds(2);

    /// <param name="scratchDir">A folder holding exactly the one file to store.</param>
    /// <param name="fileName">That file's name.</param>
    /// <param name="beforeChange">Called with the series folder about to receive an increment, before rdiff-backup touches it (write-ahead of the sync intent).</param>
    public async Task<BackupOutcome> StoreAsync(
        string scratchDir,
        string fileName,
        SeriesLocation series,
        SeriesPolicy policy,
        IContentDigest digest,
        Ownership? owner,
        IProgress<string>? progress,
        CancellationToken ct,
        Func<PendingPath, CancellationToken, Task>? beforeChange = null)
    {
        try
        {
            return await StoreCoreAsync(scratchDir, fileName, series, policy, digest, owner, progress, ct, beforeChange);
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
        IContentDigest digest,
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
        var notes = new List<string>(); // a digest that could not be saved: it costs a read next time, never a backup
        // Both at once: the stored one is usually known already, else it is read beside the new one.
        var storedDigestTask = stored is not null && File.Exists(stored) ? StoredDigestAsync(stored, digest, notes, ct) : Task.FromResult<byte[]?>(null);
        var newDigest = await digest.DigestAsync(newFile, ct);
        var storedDigest = await storedDigestTask;
        var same = newDigest is not null && storedDigest is not null && storedDigest.AsSpan().SequenceEqual(newDigest);
        var name = SeriesNames.Of(now);
        var logPath = new PendingPath(series.Relative(SeriesNames.LogFileName), Sync: false);
        var size = new FileInfo(newFile).Length;

        if (kind == BackupKind.Increment)
        {
            if (same)
            {
                await SeriesLog.AppendAsync(series, name + SeriesLog.NoChange + "skipping creation of new incremental backup", owner, ct);
                return new BackupOutcome(BackupResultKind.Unchanged, lastFull!, 0, [.. repairs, .. notes], [logPath]);
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
            Remember(stored!, newDigest, notes);
            // Announced already when there is someone to announce to.
            return new BackupOutcome(BackupResultKind.StoredIncrement, lastFull!, size, [.. repairs, .. warnings, .. notes], beforeChange is null ? [pending] : []);
        }

        if (same)
        {
            await SeriesLog.AppendAsync(series, name + SeriesLog.NoChange + "skipping creation of new full backup", owner, ct);
            return new BackupOutcome(BackupResultKind.Unchanged, lastFull!, 0, [.. repairs, .. notes], [logPath]);
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
            Remember(Path.Combine(dir, name, fileName), newDigest, notes);
        }
        finally
        {
            if (Directory.Exists(partial))
                Directory.Delete(partial, recursive: true);
        }

        return new BackupOutcome(BackupResultKind.StoredFull, name, size, [.. repairs, .. fullWarnings, .. notes],
            [new PendingPath(series.Relative(name) + "/", Sync: false)]);
    }

    /// <summary>
    /// The digest of the stored file: the one recorded when it was stored, while its stamp is
    /// unchanged (no write since, which would move its change time); else taken from the file,
    /// and recorded when the file had settled before the read and did not move during it.
    /// </summary>
    private async Task<byte[]?> StoredDigestAsync(string stored, IContentDigest digest, List<string> notes, CancellationToken ct)
    {
        var path = Path.GetFullPath(stored);
        var before = FileStamp.Of(path);
        if (Digests?.Known(path, before) is { } known)
            return known;
        var readStart = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        var taken = await digest.DigestAsync(path, ct);
        if (taken is not null && before is { } was && was.IsSettledAt(readStart, SettleMargin.Ticks * 100) && FileStamp.Of(path) == was)
            Save(d => d.Record(path, was, taken), notes);
        return taken;
    }

    /// <summary>
    /// Records that the file just stored holds the content of <paramref name="digestOfContent"/>:
    /// rdiff-backup wrote it from the very file that digest was taken of, and nothing but this
    /// series' one writer (root, or the series' owner) can write there.
    /// </summary>
    private void Remember(string storedFile, byte[]? digestOfContent, List<string> notes)
    {
        var path = Path.GetFullPath(storedFile);
        if (digestOfContent is not null && FileStamp.Of(path) is { } stamp)
            Save(d => d.Record(path, stamp, digestOfContent), notes);
    }

    private void Save(Action<StampedDigests> record, List<string> notes)
    {
        if (Digests is null)
            return;
        record(Digests);
        if (Digests.SaveIfChanged() is { } problem)
            notes.Add(problem + ": the next backup reads the stored file again");
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
