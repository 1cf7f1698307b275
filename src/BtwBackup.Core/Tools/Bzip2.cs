namespace BtwBackup.Tools;

/// <summary>
/// bzip2 streams: tar archives, the globals, and their decompression for restore and verify.
/// With Debian's lbzip2 installed, it does the work on every core; it writes and reads the same
/// standard bzip2 stream (what <c>tar -xjf</c>, bzip2 and the original read), so which one made
/// an archive never matters. Without it, bzip2, on one core, as the original ran it.
/// </summary>
public sealed class Bzip2(IProcessRunner runner)
{
    /// <summary>The compressor found on PATH when the process started: "lbzip2", else "bzip2".</summary>
    public static string Program { get; } = Choose(Environment.GetEnvironmentVariable("PATH"));

    /// <summary>"lbzip2" when an executable of that name is in one of <paramref name="path"/>'s folders, else "bzip2".</summary>
    public static string Choose(string? path)
    {
        foreach (var dir in (path ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            if (!Path.IsPathFullyQualified(dir))
                continue; // a relative PATH entry depends on the working folder: never trusted
            var candidate = Path.Combine(dir, "lbzip2");
            if (File.Exists(candidate) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(candidate) & UnixFileMode.UserExecute) != 0))
                return "lbzip2";
        }

        return "bzip2";
    }

    /// <summary>Compresses stdin to stdout (give it <see cref="ProcessSpec.StdinSource"/> and a target).</summary>
    public static ProcessSpec Compress() => new(Program, ["-c"]);

    /// <summary>A bzip2 file, decompressed on stdout (give it a target).</summary>
    public static ProcessSpec Decompress(string file) => new(Program, ["-dc", file]);

    /// <summary>Decompresses <paramref name="file"/> into <paramref name="outFile"/>; throws when a block is damaged.</summary>
    public Task DecompressToAsync(string file, string outFile, CancellationToken ct) =>
        runner.RunCheckedAsync(Decompress(file) with { StdoutFile = outFile }, ct);

    /// <summary>Checks every block of a bzip2 file.</summary>
    public Task CheckAsync(string file, CancellationToken ct) => runner.RunCheckedAsync(new ProcessSpec(Program, ["-t", file]), ct);
}
