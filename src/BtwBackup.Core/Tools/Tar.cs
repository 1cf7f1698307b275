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
    /// <see cref="CreateAsync"/> does (the same bytes), and returns its SHA-256 as well. tar writes
    /// the file itself, and a thread of this process follows it, hashing each byte right after tar
    /// wrote it, while it is still in the page cache: the archive is never read from the disk for
    /// its digest, and tar never waits for this process (through a pipe, tar stalled whenever the
    /// reader lost its core to the actor system's start: 100 MB took 0.24-0.46 s instead of 0.15 s).
    /// A write that fails (a full disk) is tar's error, thrown as the tool's failure.
    /// </summary>
    public async Task<(IReadOnlyList<string> Warnings, byte[] Sha256)> CreateWithDigestAsync(string sourceDir, string archive, CancellationToken ct)
    {
        var args = CreateArguments(sourceDir);
        args.AddRange(["-cpf", archive, "."]);
        // Made here, a new regular file, and opened before tar starts: the follower reads the very
        // file tar writes. Whatever was at that path goes first (a leftover archive, or anything
        // that is not a regular file: a FIFO there would block the follower's reads, a device
        // never end them); O_EXCL never follows a link.
        if (File.Exists(archive) || new FileInfo(archive).LinkTarget is not null)
            File.Delete(archive);
        using var file = File.OpenHandle(archive, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var follower = new ArchiveFollower(file);
        var hashing = Task.Factory.StartNew(() => follower.Hash(stop.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        IReadOnlyList<string> warnings;
        try
        {
            // A failure (exit 2) throws here too: the follower is then stopped before the error leaves.
            warnings = Warnings(await runner.RunAsync(new ProcessSpec(Program, args), ct));
        }
        catch (Exception)
        {
            await stop.CancelAsync();
            await hashing.ContinueWith(_ => { }, TaskScheduler.Default);
            throw;
        }

        follower.WriterEnded();
        return (warnings, await hashing);
    }

    /// <summary>
    /// Hashes a file as its one writer appends to it: reads up to its current end, waits a
    /// millisecond when it caught up, and ends at the end of file read after the writer exited.
    /// Linux updates a file's size only after the bytes below it are in the page cache, so a read
    /// never sees a part of the file before it is written.
    /// </summary>
    private sealed class ArchiveFollower(Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        private volatile bool _writerEnded;

        public void WriterEnded() => _writerEnded = true;

        public byte[] Hash(CancellationToken ct)
        {
            using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            var buffer = new byte[1 << 20];
            long offset = 0;
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                // The flag is read before the file: an end of file met after the writer ended is the archive's end.
                var ended = _writerEnded;
                var read = RandomAccess.Read(file, buffer, offset);
                if (read > 0)
                {
                    sha.AppendData(buffer, 0, read);
                    offset += read;
                }
                else if (ended)
                {
                    return sha.GetHashAndReset();
                }
                else
                {
                    Thread.Sleep(1);
                }
            }
        }
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
