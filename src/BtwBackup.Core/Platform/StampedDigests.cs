using System.Collections.Concurrent;
using System.Text;

namespace BtwBackup.Platform;

/// <summary>
/// A file of digests, each of one file as it was when recorded: keyed by the file's absolute path
/// and its <see cref="FileStamp"/>, the way git's index keeps a file's hash. A digest is given
/// back only while the file's stamp is the one recorded; any write moves the stamp (its change
/// time, which no user can set back), so a rewrite of the same size and modification time is
/// not taken for the content recorded. Thread-safe. Kept mode 0600, written to a new file then
/// renamed; a file that cannot be read is ignored (every digest is taken again) and replaced
/// by the next save.
/// </summary>
public sealed class StampedDigests
{
    private readonly string _file;
    private readonly string _magic;
    private readonly int _length;
    private readonly ConcurrentDictionary<string, Entry> _entries;
    private readonly Lock _saving = new();
    private int _dirty;

    private readonly record struct Entry(FileStamp Stamp, byte[] Digest);

    private StampedDigests(string file, string magic, int length, ConcurrentDictionary<string, Entry> entries, string? problem)
    {
        _file = file;
        _magic = magic;
        _length = length;
        _entries = entries;
        Problem = problem;
    }

    /// <summary>Why the file on disk was not used, or null.</summary>
    public string? Problem { get; }

    public int Count => _entries.Count;

    /// <summary>Opens <paramref name="file"/>, whose first string must be <paramref name="magic"/> and whose digests are <paramref name="length"/> bytes; missing: empty; unreadable or another format: empty, with a <see cref="Problem"/>.</summary>
    public static StampedDigests Open(string file, string magic, int length)
    {
        var entries = new ConcurrentDictionary<string, Entry>(StringComparer.Ordinal);
        if (!File.Exists(file))
            return new StampedDigests(file, magic, length, entries, null);
        try
        {
            using var reader = new BinaryReader(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16), Encoding.UTF8);
            if (reader.ReadString() != magic)
                return new StampedDigests(file, magic, length, entries, $"{file} is not a file this version wrote");
            var count = reader.ReadInt32();
            for (var i = 0; i < count; i++)
            {
                var path = reader.ReadString();
                var stamp = new FileStamp(reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64());
                var digest = reader.ReadBytes(length);
                if (digest.Length != length)
                    throw new EndOfStreamException();
                entries[path] = new Entry(stamp, digest);
            }

            return new StampedDigests(file, magic, length, entries, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or EndOfStreamException or FormatException)
        {
            return new StampedDigests(file, magic, length, new ConcurrentDictionary<string, Entry>(StringComparer.Ordinal), $"{file} cannot be read ({e.Message})");
        }
    }

    /// <summary>The digest recorded for the file at <paramref name="path"/>, when <paramref name="stamp"/> is the stamp it was recorded with; else null.</summary>
    public byte[]? Known(string path, FileStamp? stamp) =>
        stamp is { } s && _entries.TryGetValue(path, out var known) && known.Stamp == s ? known.Digest : null;

    /// <summary>Records <paramref name="digest"/> as the content of <paramref name="path"/> while its stamp is <paramref name="stamp"/>.</summary>
    public void Record(string path, FileStamp stamp, byte[] digest)
    {
        if (digest.Length != _length)
            throw new ArgumentException($"a digest here is {_length} bytes, not {digest.Length}", nameof(digest));
        _entries[path] = new Entry(stamp, digest);
        Interlocked.Exchange(ref _dirty, 1);
    }

    /// <summary>
    /// Writes the file when something was recorded since the last save, leaving out the files
    /// that are gone. A failure to write is returned (the digests stay in memory, for the next
    /// save), never thrown: it costs reading files again, never a backup or a sync.
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
                    writer.Write(_magic);
                    writer.Write(snapshot.Length);
                    foreach (var (path, entry) in snapshot)
                    {
                        writer.Write(path);
                        writer.Write(entry.Stamp.Device);
                        writer.Write(entry.Stamp.Inode);
                        writer.Write(entry.Stamp.Size);
                        writer.Write(entry.Stamp.ModifiedNs);
                        writer.Write(entry.Stamp.ChangedNs);
                        writer.Write(entry.Digest);
                    }
                });
                return null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Interlocked.Exchange(ref _dirty, 1);
                return $"{_file} was not written ({e.Message})";
            }
        }
    }
}
