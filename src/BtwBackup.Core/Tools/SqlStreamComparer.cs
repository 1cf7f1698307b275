using System.IO.Pipelines;
using System.Text;
using BtwBackup.Backup;
using CliWrap;

namespace BtwBackup.Tools;

/// <summary>
/// Compares two dumps by the SQL they stand for, streaming: each file is decoded by a program
/// (pg_restore for -Fc dumps, bzip2 for the globals) into a bounded pipe, and the two outputs
/// are compared line by line, so memory stays flat whatever the dump size. Lines that differ
/// between two dumps of an unchanged database (the random <c>\restrict</c> keys of PostgreSQL
/// 15.18+) are ignored. A decoder that fails makes the dumps count as different: storing one
/// dump too many is safe, skipping a changed one is not.
/// </summary>
public sealed class SqlStreamComparer(IProcessRunner runner, Func<string, ProcessSpec> decoder) : IContentComparer
{
    private static readonly PipeOptions Bounded = new(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19);

    public async Task<bool> SameAsync(string newFile, string storedFile, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var a = new Pipe(Bounded);
        var b = new Pipe(Bounded);
        var decodeA = DecodeAsync(decoder(newFile), a.Writer, cts.Token);
        var decodeB = DecodeAsync(decoder(storedFile), b.Writer, cts.Token);
        bool same;
        try
        {
            same = await SameLinesAsync(a.Reader.AsStream(), b.Reader.AsStream(), cts.Token);
        }
        finally
        {
            // Stop decoders that are still writing (a difference was found early).
            await cts.CancelAsync();
            await a.Reader.CompleteAsync();
            await b.Reader.CompleteAsync();
        }

        var results = await Task.WhenAll(decodeA, decodeB);
        ct.ThrowIfCancellationRequested();
        return same && results.All(r => r is { Succeeded: true });
    }

    internal static bool Ignored(string line) =>
        line.StartsWith("\\restrict ", StringComparison.Ordinal) || line.StartsWith("\\unrestrict ", StringComparison.Ordinal);

    internal static async Task<bool> SameLinesAsync(Stream a, Stream b, CancellationToken ct)
    {
        using var ra = new StreamReader(a, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16);
        using var rb = new StreamReader(b, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16);
        while (true)
        {
            var la = await NextAsync(ra, ct);
            var lb = await NextAsync(rb, ct);
            if (la is null || lb is null)
                return la is null && lb is null;
            if (!string.Equals(la, lb, StringComparison.Ordinal))
                return false;
        }
    }

    private static async Task<string?> NextAsync(StreamReader reader, CancellationToken ct)
    {
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (!Ignored(line))
                return line;
        }

        return null;
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
