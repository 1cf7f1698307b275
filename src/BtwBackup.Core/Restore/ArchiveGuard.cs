using System.Formats.Tar;
using BtwBackup.Backup;
using BtwBackup.ObjectStore;
using BtwBackup.Tools;
using CliWrap;

namespace BtwBackup.Restore;

/// <summary>
/// Reads an archive's headers before anything is extracted, and refuses one that would write
/// outside the target: a member whose name <see cref="SafePath"/> refuses (absolute, <c>..</c>,
/// <c>.</c> or empty components, NUL, control characters, backslashes), a member under a
/// symbolic link the archive itself made, or a hard link to such a path.
/// </summary>
public sealed class ArchiveGuard(IProcessRunner runner)
{
    /// <param name="decompressTo">For a bzip2 archive: where to keep the decompressed tar, written
    /// while it is checked, so that the extraction does not decompress it a second time.</param>
    public async Task CheckAsync(string archive, bool bzip2, CancellationToken ct, string? decompressTo = null)
    {
        if (await ProblemAsync(archive, bzip2, ct, decompressTo) is { } problem)
            throw new BackupException($"refused to restore {Path.GetFileName(archive)}: {problem}; nothing was restored");
    }

    /// <summary>The first reason a restore would refuse the archive, or null (verify reports it as a problem).</summary>
    public async Task<string?> ProblemAsync(string archive, bool bzip2, CancellationToken ct, string? decompressTo = null)
    {
        string? problem = null;
        if (bzip2)
        {
            var scan = PipeTarget.Create(async (stream, token) => problem = await ScanAsync(stream, token));
            var result = await runner.RunAsync(Bzip2.Decompress(archive) with
            {
                StdoutTarget = decompressTo is null ? scan : PipeTarget.Merge(PipeTarget.ToFile(decompressTo), scan),
            }, ct);
            if (problem is null && !result.Succeeded)
                throw new ToolFailedException(Bzip2.Program, result.ExitCode, result.Stderr);
        }
        else
        {
            await using var stream = File.OpenRead(archive);
            problem = await ScanAsync(stream, ct);
        }

        return problem;
    }

    /// <summary>The first reason to refuse, or null. Reads to the end (so that a decompressor upstream finishes).</summary>
    public static async Task<string?> ScanAsync(Stream stream, CancellationToken ct)
    {
        string? problem = null;
        var links = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = new TarReader(stream);
        while (await reader.GetNextEntryAsync(copyData: false, ct) is { } entry)
        {
            problem ??= Problem(entry.Name, links, "member");
            if (entry.EntryType == TarEntryType.HardLink)
                problem ??= Problem(entry.LinkName, links, "hard link target");
            if (entry.EntryType == TarEntryType.SymbolicLink && Normalize(entry.Name) is { } link)
                links.Add(link);
        }

        // The end-of-archive blocks and the record padding after them.
        await stream.CopyToAsync(Stream.Null, ct);
        return problem;
    }

    private static string? Problem(string name, HashSet<string> links, string what)
    {
        string? relative;
        try
        {
            relative = SafePath.Member(name, "the " + what);
        }
        catch (UnsafePathException e)
        {
            return e.Message;
        }

        if (relative is null)
            return null;
        var parts = relative.Split('/');
        for (var i = 1; i < parts.Length; i++)
        {
            var prefix = string.Join('/', parts.Take(i));
            if (links.Contains(prefix))
                return $"the {what} '{SafePath.Show(name)}' would be written through the symbolic link '{prefix}'";
        }

        return null;
    }

    /// <summary>A symbolic link member's relative path, for the check of later members; null for a bad name (refused already).</summary>
    private static string? Normalize(string name)
    {
        try
        {
            return SafePath.Member(name, "the member");
        }
        catch (UnsafePathException)
        {
            return null;
        }
    }
}
