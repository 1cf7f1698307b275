using System.Collections.Concurrent;
using System.Security.Cryptography;
using BtwBackup.Platform;

namespace BtwBackup.Sync;

/// <summary>
/// The MD5 of each local file as it was when last read, keyed by its absolute path and its
/// <see cref="FileStamp"/>, the way git's index keeps a file's hash: a file whose stamp is the one
/// recorded is not read again; any write moves the stamp (its change time), so a rewrite of the
/// same size and modification time is still read. A hash is recorded only when the file's stamp
/// was the same before and after the read and its times were settled before it began.
/// Kept in CONFIG_DIR/md5-cache (mode 0600, written to a new file then renamed); a file that
/// cannot be read is ignored (everything is read again) and replaced by the next save.
/// </summary>
public sealed class Md5Cache
{
    public const string FileName = "md5-cache";
    private const string Magic = "btw-backup md5-cache 1";

    private readonly StampedDigests _digests;
    private int _reads;
    private int _readAhead;

    // The reads under way, by path, each with the stamp it recorded (null when it could not: the
    // file moved during the read, or its times were too recent to vouch for it): a caller that asks
    // for a file being read takes that read's result when it recorded one and the file has not
    // moved since; else it reads the file itself.
    private readonly ConcurrentDictionary<string, Task<Read>> _reading = new(StringComparer.Ordinal);

    // The reads of ReadAhead whose files' times were too recent to record, by path, with the stamp
    // the file kept throughout (Unsettled): for the uploads started ahead, never for a comparison.
    // Only ReadAhead's (a CLI's sync --full): a daemon's cache never grows by them.
    private readonly ConcurrentDictionary<string, Read> _unsettled = new(StringComparer.Ordinal);

    /// <summary>A read's MD5; <see cref="Stamp"/> when recorded; <see cref="Unsettled"/>, when not recorded only because the file's times were too recent, the stamp it kept throughout.</summary>
    private readonly record struct Read(FileStamp? Stamp, byte[] Md5)
    {
        public FileStamp? Unsettled { get; init; }
    }

    private Md5Cache(StampedDigests digests) => _digests = digests;

    /// <summary>Why the file on disk was not used, or null.</summary>
    public string? Problem => _digests.Problem is { } problem ? problem + ": every file is read again" : null;

    public int Count => _digests.Count;

    /// <summary>How long before a read a file's times must be, for its hash to be recorded (the clock's granularity, with room).</summary>
    public TimeSpan SettleMargin { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Files read (hashed) since the cache was opened; the others were answered from it.</summary>
    public int Reads => _reads;

    /// <summary>Opens <paramref name="file"/>; missing: empty; unreadable or not this format: empty, with a <see cref="Problem"/>.</summary>
    public static Md5Cache Open(string file) => new(StampedDigests.Open(file, Magic, 16));

    /// <summary>
    /// The MD5 (lower-case hex) of the file at <paramref name="path"/> (absolute): from the cache
    /// when its stamp is the one recorded; else from the read of it under way (<see cref="ReadAhead"/>)
    /// when that read recorded it (see <see cref="ReadAsync"/>) and the file has not moved since; else read.
    /// </summary>
    /// <param name="unsettled">
    /// Also taken: a read of the file that was not recorded only because its times were too
    /// recent (one under way, or one <see cref="ReadAhead"/> made), if the file has not moved since. Only for an upload started ahead (<see cref="Mirror.UploadAheadAsync"/>),
    /// whose MD5 the server checks against what it receives and which the sync joins only when it
    /// reads the same MD5 itself; never for a comparison that decides a file is unchanged.
    /// </param>
    public async Task<string> Md5Async(string path, CancellationToken ct, bool unsettled = false)
    {
        if (_digests.Known(path, FileStamp.Of(path)) is { } known)
            return Convert.ToHexStringLower(known);
        if (unsettled && _unsettled.TryGetValue(path, out var done) && done.Unsettled == FileStamp.Of(path))
            return Convert.ToHexStringLower(done.Md5);
        var mine = new TaskCompletionSource<Read>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_reading.TryAdd(path, mine.Task))
            return Convert.ToHexStringLower((await ReadAsAsync(mine, path, ct)).Md5);

        if (_reading.TryGetValue(path, out var underWay))
        {
            try
            {
                var read = await underWay.WaitAsync(ct);
                if ((read.Stamp ?? (unsettled ? read.Unsettled : null)) is { } stamp && FileStamp.Of(path) == stamp)
                    return Convert.ToHexStringLower(read.Md5);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // That read failed or was stopped: this caller meets the file itself.
            }
        }
        else if (_digests.Known(path, FileStamp.Of(path)) is { } justRead)
        {
            return Convert.ToHexStringLower(justRead);
        }

        return Convert.ToHexStringLower((await ReadAsync(path, ct)).Md5);
    }

    /// <summary>
    /// Starts reading the files at <paramref name="paths"/> (absolute) one after another, in the
    /// background, for the <see cref="Md5Async"/> calls to come: a sync whose comparison found
    /// files the cache cannot vouch for hashes them while its actors start (they would wait for
    /// the journal first). A file already known, or being read, is skipped; a file that cannot be
    /// read is left to the caller that asks for it, which meets the error its way. Stops at
    /// <paramref name="ct"/>. Once per cache: a second call (another destination's comparison
    /// of the same root) adds nothing.
    /// </summary>
    public Task ReadAhead(IReadOnlyList<string> paths, CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _readAhead, 1) == 1)
            return Task.CompletedTask;
        return Task.Run(
            async () =>
            {
                foreach (var path in paths)
                {
                    if (ct.IsCancellationRequested)
                        return;
                    var mine = new TaskCompletionSource<Read>(TaskCreationOptions.RunContinuationsAsynchronously);
                    if (_digests.Known(path, FileStamp.Of(path)) is not null || !_reading.TryAdd(path, mine.Task))
                        continue;
                    try
                    {
                        if (await ReadAsAsync(mine, path, ct) is { Unsettled: not null } read)
                            _unsettled[path] = read;
                    }
                    catch (Exception)
                    {
                        // Said by the caller that asks for this file, if one does.
                    }
                }
            },
            CancellationToken.None);
    }

    /// <summary>Reads the file as the read under way for its path (<paramref name="mine"/>, registered by the caller), which ends with it.</summary>
    private async Task<Read> ReadAsAsync(TaskCompletionSource<Read> mine, string path, CancellationToken ct)
    {
        try
        {
            var read = await ReadAsync(path, ct);
            mine.SetResult(read);
            return read;
        }
        catch (Exception e)
        {
            mine.SetException(e);
            _ = mine.Task.Exception; // observed: a caller that joined it has its own catch
            throw;
        }
        finally
        {
            _reading.TryRemove(new KeyValuePair<string, Task<Read>>(path, mine.Task));
        }
    }

    /// <summary>Reads the file's MD5 (unless recorded meanwhile), recorded when its times were settled before the read and its stamp did not move during it.</summary>
    private async Task<Read> ReadAsync(string path, CancellationToken ct)
    {
        var before = FileStamp.Of(path);
        // Recorded by a read that ended a moment ago.
        if (_digests.Known(path, before) is { } known)
            return new Read(before, known);
        var readStart = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        Interlocked.Increment(ref _reads);
        var md5 = await ReadMd5Async(path, ct);
        var after = FileStamp.Of(path);
        if (before is not { } was || after != was)
            return new Read(null, md5);
        if (!was.IsSettledAt(readStart, SettleMargin.Ticks * 100))
            return new Read(null, md5) { Unsettled = was };

        _digests.Record(path, was, md5);
        return new Read(was, md5);
    }

    /// <summary>The MD5 (lower-case hex) recorded for the file at <paramref name="path"/> when its stamp has not moved since; null when it would have to be read.</summary>
    public string? Known(string path) =>
        _digests.Known(path, FileStamp.Of(path)) is { } known ? Convert.ToHexStringLower(known) : null;

    /// <summary>Files under this size are read in synchronous reads (from the page cache, a few microseconds), not through the thread pool's asynchronous reads.</summary>
    public const int ReadAtOnceUpTo = 1 << 20;

    /// <summary>
    /// A file under <see cref="ReadAtOnceUpTo"/> bytes, read whole into a buffer of the shared pool
    /// (the caller returns it; <paramref name="pooled"/> false: a buffer of its own, for a reader
    /// that may still hold it after it is done with it, as an HTTP request that timed out), and
    /// the length read; null when it is larger, or grew past that while read (the caller then streams it).
    /// </summary>
    public static (byte[] Buffer, int Length)? ReadSmall(string file, bool pooled = true)
    {
        using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.Read);
        var length = RandomAccess.GetLength(handle);
        if (length >= ReadAtOnceUpTo)
            return null;
        var buffer = pooled ? System.Buffers.ArrayPool<byte>.Shared.Rent((int)length + 1) : new byte[length + 1];
        int read = 0, n;
        try
        {
            while (read < buffer.Length && (n = RandomAccess.Read(handle, buffer.AsSpan(read), read)) > 0)
                read += n;
        }
        catch
        {
            if (pooled)
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        if (read < buffer.Length)
            return (buffer, read);
        if (pooled)
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        return null;
    }

    /// <summary>The MD5 of a file, read whole.</summary>
    public static async Task<byte[]> ReadMd5Async(string file, CancellationToken ct)
    {
        if (ReadSmall(file) is (byte[] buffer, int length))
        {
            try
            {
                return MD5.HashData(buffer.AsSpan(0, length));
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan | FileOptions.Asynchronous);
        return await MD5.HashDataAsync(stream, ct);
    }

    /// <summary>
    /// Writes the cache when something was recorded since the last save, leaving out the files
    /// that are gone. A failure to write is returned (the cache stays in memory), never thrown:
    /// it costs reading files again, never a sync.
    /// </summary>
    public string? SaveIfChanged() =>
        _digests.SaveIfChanged() is { } problem ? $"the MD5 cache {problem}: the next sync reads the files again" : null;
}
