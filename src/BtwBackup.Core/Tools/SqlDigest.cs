using System.IO.Pipelines;
using System.Security.Cryptography;
using BtwBackup.Backup;
using CliWrap;

namespace BtwBackup.Tools;

/// <summary>
/// The digest of a dump by the SQL it stands for, streaming: the file is decoded by a program
/// (pg_restore for -Fc dumps, bzip2 for the globals) into a bounded pipe whose lines are hashed
/// as they come, so memory stays flat whatever the dump size. Lines that differ between two
/// dumps of an unchanged database (the random <c>\restrict</c> keys of PostgreSQL 15.18+) are
/// left out. A decoder that fails gives no digest, and the dump counts as changed: storing one
/// dump too many is safe, skipping a changed one is not.
/// </summary>
public sealed class SqlDigest(IProcessRunner runner, Func<string, ProcessSpec> decoder) : IContentDigest
{
    private static readonly PipeOptions Bounded = new(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19);

    public async Task<byte[]?> DigestAsync(string file, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var pipe = new Pipe(Bounded);
        var decode = DecodeAsync(decoder(file), pipe.Writer, cts.Token);
        using var lines = new SqlLineHasher();
        try
        {
            await using var sql = pipe.Reader.AsStream();
            var buffer = new byte[1 << 16];
            int n;
            while ((n = await sql.ReadAsync(buffer, cts.Token)) > 0)
                lines.Append(buffer.AsSpan(0, n));
        }
        finally
        {
            // Stop a decoder that is still writing (this side failed).
            await cts.CancelAsync();
            await pipe.Reader.CompleteAsync();
        }

        var result = await decode;
        ct.ThrowIfCancellationRequested();
        return result is { Succeeded: true } ? lines.Finish() : null;
    }

    private async Task<ProcessResult?> DecodeAsync(ProcessSpec spec, PipeWriter writer, CancellationToken ct)
    {
        try
        {
            await using var stream = writer.AsStream(leaveOpen: true);
            return await runner.RunAsync(spec with { StdoutTarget = PipeTarget.ToStream(stream) }, ct);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            return null;
        }
        finally
        {
            await writer.CompleteAsync();
        }
    }
}

/// <summary>
/// SHA-256 of a SQL text fed in pieces of any size, leaving out the lines that start with
/// <c>\restrict </c> or <c>\unrestrict </c>. Bytes are hashed as they are, line ends included:
/// only what can decide whether a line is left out (its first 12 bytes) is ever held back.
/// </summary>
public sealed class SqlLineHasher : IDisposable
{
    private static readonly byte[] Restrict = "\\restrict "u8.ToArray();
    private static readonly byte[] Unrestrict = "\\unrestrict "u8.ToArray();

    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _head = new byte[Unrestrict.Length];
    private int _headLength;
    private Line _line = Line.Starting;

    private enum Line
    {
        Starting,
        Kept,
        LeftOut,
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_line == Line.Starting)
            {
                var take = Math.Min(_head.Length - _headLength, data.Length);
                var end = data[..take].IndexOf((byte)'\n');
                if (end >= 0)
                    take = end + 1;
                data[..take].CopyTo(_head.AsSpan(_headLength));
                _headLength += take;
                data = data[take..];
                if (end >= 0 || _headLength == _head.Length)
                    DecideHead(lineEnded: end >= 0);
                continue;
            }

            var newline = data.IndexOf((byte)'\n');
            var piece = newline >= 0 ? data[..(newline + 1)] : data;
            if (_line == Line.Kept)
                _hash.AppendData(piece);
            data = data[piece.Length..];
            if (newline >= 0)
                _line = Line.Starting;
        }
    }

    /// <summary>The digest of everything appended.</summary>
    public byte[] Finish()
    {
        if (_line == Line.Starting && _headLength > 0)
            DecideHead(lineEnded: true);
        return _hash.GetHashAndReset();
    }

    private void DecideHead(bool lineEnded)
    {
        var head = _head.AsSpan(0, _headLength);
        var leftOut = head.StartsWith(Restrict) || head.StartsWith(Unrestrict);
        if (!leftOut)
            _hash.AppendData(head);
        _headLength = 0;
        _line = lineEnded ? Line.Starting : leftOut ? Line.LeftOut : Line.Kept;
    }

    public void Dispose() => _hash.Dispose();
}
