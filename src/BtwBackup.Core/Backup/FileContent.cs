namespace BtwBackup.Backup;

/// <summary>Compares two files by content, streaming (never loads a whole file).</summary>
public static class FileContent
{
    private const int BufferSize = 1 << 20;

    public static async Task<bool> SameAsync(string a, string b, CancellationToken ct)
    {
        var ia = new FileInfo(a);
        var ib = new FileInfo(b);
        if (!ia.Exists || !ib.Exists || ia.Length != ib.Length)
            return false;
        await using var sa = new FileStream(a, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan | FileOptions.Asynchronous);
        await using var sb = new FileStream(b, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan | FileOptions.Asynchronous);
        return await StreamsEqualAsync(sa, sb, ct);
    }

    /// <summary>Makes a file's content durable before it is renamed into place.</summary>
    public static void Fsync(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        stream.Flush(flushToDisk: true);
    }

    public static async Task<bool> StreamsEqualAsync(Stream sa, Stream sb, CancellationToken ct)
    {
        var ba = new byte[BufferSize];
        var bb = new byte[BufferSize];
        while (true)
        {
            var na = await sa.ReadAtLeastAsync(ba, BufferSize, throwOnEndOfStream: false, ct);
            var nb = await sb.ReadAtLeastAsync(bb, BufferSize, throwOnEndOfStream: false, ct);
            if (na != nb || !ba.AsSpan(0, na).SequenceEqual(bb.AsSpan(0, nb)))
                return false;
            if (na == 0)
                return true;
        }
    }
}
