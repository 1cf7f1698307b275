using CliWrap;

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
        var args = CreateArguments(sourceDir);
        if (bzip2)
            args.Add("--use-compress-program=" + Bzip2.Program);
        args.AddRange(["-cpf", archive, "."]);
        return Warnings(await runner.RunAsync(new ProcessSpec(Program, args), ct));
    }

    /// <summary>
    /// Archives <paramref name="sourceDir"/> into <paramref name="archive"/>, uncompressed, as
    /// <see cref="CreateAsync"/> does (the same bytes), and returns its SHA-256 as well: tar writes
    /// to its stdout, and this process writes the file and hashes the bytes as they pass, on the
    /// other core, so the archive is never read again for its digest. A write that fails (a full
    /// disk) closes the pipe, which stops tar, and is the error thrown.
    /// </summary>
    public async Task<(IReadOnlyList<string> Warnings, byte[] Sha256)> CreateWithDigestAsync(string sourceDir, string archive, CancellationToken ct)
    {
        var args = CreateArguments(sourceDir);
        args.AddRange(["-cpf", "-", "."]);
        byte[]? digest = null;
        // Blocking reads on a thread of their own: tar writes 10 KiB records, and an asynchronous
        // read per record cost more than tar itself (86 MB: 420 ms through the pipe, 100 ms to a file).
        var toFile = PipeTarget.Create((stdout, token) => Task.Run(() => digest = WriteHashing(stdout, archive, token), CancellationToken.None));
        var warnings = Warnings(await runner.RunAsync(new ProcessSpec(Program, args) { StdoutTarget = toFile }, ct));
        return (warnings, digest ?? throw new IOException($"tar wrote no archive to {archive}"));
    }

    /// <summary>Copies <paramref name="from"/> into a new <paramref name="archive"/> 1 MiB at a time, hashing what passes.</summary>
    private static byte[] WriteHashing(Stream from, string archive, CancellationToken ct)
    {
        using var file = new FileStream(archive, FileMode.Create, FileAccess.Write, FileShare.None, 0);
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        var ended = false;
        while (!ended)
        {
            var filled = 0;
            while (filled < buffer.Length)
            {
                var read = from.Read(buffer, filled, buffer.Length - filled);
                if (read == 0)
                {
                    ended = true;
                    break;
                }

                filled += read;
            }

            ct.ThrowIfCancellationRequested();
            sha.AppendData(buffer, 0, filled);
            file.Write(buffer, 0, filled);
        }

        return sha.GetHashAndReset();
    }

    private static List<string> CreateArguments(string sourceDir) =>
    [
        "-C", sourceDir,
        "--exclude-tag-under=" + ExcludeTag,
        "--sort=name",
    ];

    /// <summary>Exit 1 is a warning (a file changed while tar read it: the archive is usable); 2 is a failure.</summary>
    private static IReadOnlyList<string> Warnings(ProcessResult result) => result.ExitCode switch
    {
        0 => [],
        1 => result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        _ => throw new ToolFailedException(Program, result.ExitCode, result.Stderr),
    };

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
