using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
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

    private readonly string _file;
    private readonly ConcurrentDictionary<string, Entry> _entries;
    private readonly Lock _saving = new();
    private int _dirty;
    private int _reads;

    private Md5Cache(string file, ConcurrentDictionary<string, Entry> entries, string? problem)
    {
        _file = file;
        _entries = entries;
        Problem = problem;
    }

    /// <summary>Why the file on disk was not used, or null.</summary>
    public string? Problem { get; }

    public int Count => _entries.Count;

    /// <summary>How long before a read a file's times must be, for its hash to be recorded (the clock's granularity, with room).</summary>
    public TimeSpan SettleMargin { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Files read (hashed) since the cache was opened; the others were answered from it.</summary>
    public int Reads => _reads;

    private readonly record struct Entry(FileStamp Stamp, byte[] Md5);

    /// <summary>Opens <paramref name="file"/>; missing: empty; unreadable or not this format: empty, with a <see cref="Problem"/>.</summary>
    public static Md5Cache Open(string file)
    {
        var entries = new ConcurrentDictionary<string, Entry>(StringComparer.Ordinal);
        if (!File.Exists(file))
            return new Md5Cache(file, entries, null);
        try
        {
            using var reader = new BinaryReader(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16), Encoding.UTF8);
            if (reader.ReadString() != Magic)
                return new Md5Cache(file, entries, $"{file} is not a cache this version wrote: every file is read again");
            var count = reader.ReadInt32();
            for (var i = 0; i < count; i++)
            {
                var path = reader.ReadString();
                var stamp = new FileStamp(reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64());
                entries[path] = new Entry(stamp, reader.ReadBytes(16));
            }

            if (entries.Values.Any(e => e.Md5.Length != 16))
                throw new EndOfStreamException();
            return new Md5Cache(file, entries, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or EndOfStreamException or FormatException)
        {
            return new Md5Cache(file, new ConcurrentDictionary<string, Entry>(StringComparer.Ordinal), $"{file} cannot be read ({e.Message}): every file is read again");
        }
    }

    /// <summary>The MD5 (lower-case hex) of the file at <paramref name="path"/> (absolute): from the cache when its stamp is the one recorded, else read.</summary>
    public async Task<string> Md5Async(string path, CancellationToken ct)
    {
        var before = FileStamp.Of(path);
        if (before is { } stamp && _entries.TryGetValue(path, out var known) && known.Stamp == stamp)
            return Convert.ToHexStringLower(known.Md5);

        var readStart = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        Interlocked.Increment(ref _reads);
        var md5 = await ReadMd5Async(path, ct);
        if (before is { } was && was.IsSettledAt(readStart, SettleMargin.Ticks * 100) && FileStamp.Of(path) == was)
        {
            _entries[path] = new Entry(was, md5);
            Interlocked.Exchange(ref _dirty, 1);
        }

        return Convert.ToHexStringLower(md5);
    }

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
    public string? SaveIfChanged()
    {
        lock (_saving)
        {
            if (Interlocked.Exchange(ref _dirty, 0) == 0)
                return null;
            foreach (var path in _entries.Keys.Where(p => !File.Exists(p)).ToList())
                _entries.TryRemove(path, out _);
            try
            {
                var snapshot = _entries.ToArray();
                PrivateFile.ReplaceBinary(_file, stream =>
                {
                    using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
                    writer.Write(Magic);
                    writer.Write(snapshot.Length);
                    foreach (var (path, entry) in snapshot)
                    {
                        writer.Write(path);
                        writer.Write(entry.Stamp.Device);
                        writer.Write(entry.Stamp.Inode);
                        writer.Write(entry.Stamp.Size);
                        writer.Write(entry.Stamp.ModifiedNs);
                        writer.Write(entry.Stamp.ChangedNs);
                        writer.Write(entry.Md5);
                    }
                });
                return null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Interlocked.Exchange(ref _dirty, 1);
                return $"the MD5 cache {_file} was not written ({e.Message}): the next sync reads the files again";
            }
        }
    }
}
