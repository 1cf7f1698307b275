namespace BtwBackup.Tools;

/// <summary>
/// GNU tar, as the original ran it (<c>-C SRC --exclude-tag-under=NOBACKUP-TAG -cp[j]f OUT .</c>),
/// but compressed by <see cref="Bzip2.Program"/>: lbzip2 on every core when installed, the same .tbz.
/// </summary>
public sealed class Tar(IProcessRunner runner)
{
    public const string Program = "tar";
    public const string ExcludeTag = "NOBACKUP-TAG";

    /// <summary>
    /// Archives <paramref name="sourceDir"/> into <paramref name="archive"/>. Members are sorted
    /// by name so that two archives of an unchanged tree are byte-identical whatever the file
    /// system's readdir order. Returns tar's warnings (a file that changed while it was read is
    /// a warning, exit 1: the archive is still usable); throws on a real failure (exit 2).
    /// </summary>
    public async Task<IReadOnlyList<string>> CreateAsync(string sourceDir, string archive, bool bzip2, CancellationToken ct)
    {
        var args = new List<string>
        {
            "-C", sourceDir,
            "--exclude-tag-under=" + ExcludeTag,
            "--sort=name",
        };
        if (bzip2)
            args.Add("--use-compress-program=" + Bzip2.Program);
        args.AddRange(["-cpf", archive, "."]);
        var result = await runner.RunAsync(new ProcessSpec(Program, args), ct);
        return result.ExitCode switch
        {
            0 => [],
            1 => result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            _ => throw new ToolFailedException(Program, result.ExitCode, result.Stderr),
        };
    }

    /// <summary>
    /// Extracts an uncompressed archive into <paramref name="targetDir"/>, modes kept, owners kept when run as
    /// root (as tar itself decides). The archive must have been checked by <see cref="Restore.ArchiveGuard"/>.
    /// </summary>
    public async Task ExtractAsync(string archive, string targetDir, CancellationToken ct)
    {
        await runner.RunCheckedAsync(new ProcessSpec(Program, ["-C", targetDir, "-x", "-p", "-f", archive]), ct);
    }

    /// <summary><c>tar -t</c>: reads the whole archive (and for bzip2 checks every block's CRC); throws when it cannot.</summary>
    public async Task CheckReadableAsync(string archive, bool bzip2, CancellationToken ct)
    {
        string[] args = bzip2 ? ["--use-compress-program=" + Bzip2.Program, "-tf", archive] : ["-tf", archive];
        await runner.RunCheckedAsync(new ProcessSpec(Program, args) { StdoutFile = "/dev/null" }, ct);
    }
}
