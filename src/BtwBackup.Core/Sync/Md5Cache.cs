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

    /// <summary>The MD5 (lower-case hex) of the file at <paramref name="path"/> (absolute): from the cache when its stamp is the one recorded, else read.</summary>
    public async Task<string> Md5Async(string path, CancellationToken ct)
    {
        var before = FileStamp.Of(path);
        if (_digests.Known(path, before) is { } known)
            return Convert.ToHexStringLower(known);

        var readStart = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        Interlocked.Increment(ref _reads);
        var md5 = await ReadMd5Async(path, ct);
        if (before is { } was && was.IsSettledAt(readStart, SettleMargin.Ticks * 100) && FileStamp.Of(path) == was)
            _digests.Record(path, was, md5);
        return Convert.ToHexStringLower(md5);
    }

    /// <summary>The MD5 (lower-case hex) recorded for the file at <paramref name="path"/> when its stamp has not moved since; null when it would have to be read.</summary>
    public string? Known(string path) =>
        _digests.Known(path, FileStamp.Of(path)) is { } known ? Convert.ToHexStringLower(known) : null;

    /// <summary>The MD5 of a file, read whole.</summary>
    public static async Task<byte[]> ReadMd5Async(string file, CancellationToken ct)
    {
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
