namespace BtwBackup.Tools;

/// <summary>bzip2: the globals' compression, and tar archives decompressed for restore and verify.</summary>
public sealed class Bzip2(IProcessRunner runner)
{
    public const string Program = "bzip2";

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
