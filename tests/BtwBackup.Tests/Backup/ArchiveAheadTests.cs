using CliWrap;
using System.Security.Cryptography;
using BtwBackup.Backup;
using BtwBackup.Tools;
using Xunit;

namespace BtwBackup.Tests.Backup;

/// <summary>The scratch tar made while the actors start: with the real tar, in a temporary folder.</summary>
public sealed class ArchiveAheadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-ahead-").FullName;
    private readonly Tar _tar = new(new CliWrapProcessRunner());

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Tree()
    {
        var tree = Directory.CreateDirectory(Path.Combine(_dir, "tree")).FullName;
        File.WriteAllText(Path.Combine(tree, "a.txt"), "alpha\n");
        Directory.CreateDirectory(Path.Combine(tree, "sub"));
        File.WriteAllBytes(Path.Combine(tree, "sub", "b.bin"), RandomNumberGenerator.GetBytes(300_000));
        return tree;
    }

    [Fact]
    public async Task Its_digest_is_the_SHA256_of_the_archive_tar_wrote_and_it_is_taken_once()
    {
        var tree = Tree();
        var scratch = Path.Combine(_dir, "work", "backup");
        await using var ahead = ArchiveAhead.Start(_tar, tree, scratch, CancellationToken.None);
        var archive = Path.Combine(scratch, FileTreeBackup.RdiffFileName);

        Assert.Null(ahead.Take(Path.Combine(_dir, "other"), archive));
        Assert.Null(ahead.Take(tree, Path.Combine(_dir, "elsewhere.tar")));
        var work = ahead.Take(tree, archive);
        Assert.NotNull(work);
        Assert.Null(ahead.Take(tree, archive));

        var made = await work;
        Assert.Empty(made.Warnings);
        Assert.Equal(SHA256.HashData(File.ReadAllBytes(archive)), made.Digest);
        // The same bytes the procedure would have made itself: byte-identical archives of one tree.
        var byItself = Path.Combine(_dir, "by-itself.tar");
        await _tar.CreateAsync(tree, byItself, bzip2: false, CancellationToken.None);
        Assert.Equal(File.ReadAllBytes(byItself), File.ReadAllBytes(archive));
    }

    [Fact]
    public async Task The_archive_handed_back_is_removed_by_the_time_it_is_disposed_and_no_other()
    {
        var tree = Tree();
        var scratch = Path.Combine(_dir, "work", "backup");
        var archive = Path.Combine(scratch, FileTreeBackup.RdiffFileName);
        var other = Path.Combine(_dir, "other.tar");
        File.WriteAllText(other, "someone else's");
        var ahead = ArchiveAhead.Start(_tar, tree, scratch, CancellationToken.None);

        Assert.False(ahead.Remove(archive)); // not taken yet: the caller's to remove
        await ahead.Take(tree, archive)!;
        Assert.False(ahead.Remove(other));
        Assert.True(ahead.Remove(archive));
        await ahead.DisposeAsync();

        Assert.False(File.Exists(archive));
        Assert.Equal("someone else's", File.ReadAllText(other));
    }

    [Fact]
    public async Task An_archive_nobody_took_is_removed_when_it_is_disposed()
    {
        var tree = Tree();
        var scratch = Path.Combine(_dir, "work", "backup");
        var ahead = ArchiveAhead.Start(_tar, tree, scratch, CancellationToken.None);
        await ahead.DisposeAsync();

        Assert.False(File.Exists(Path.Combine(scratch, FileTreeBackup.RdiffFileName)));
    }

    [Fact]
    public async Task A_failed_tar_is_the_takers_error_and_disposing_it_throws_nothing()
    {
        var scratch = Path.Combine(_dir, "work", "backup");
        var ahead = ArchiveAhead.Start(_tar, Path.Combine(_dir, "missing"), scratch, CancellationToken.None);
        var work = ahead.Take(Path.Combine(_dir, "missing"), Path.Combine(scratch, FileTreeBackup.RdiffFileName));

        var e = await Assert.ThrowsAsync<ToolFailedException>(() => work!);
        Assert.Contains("missing", e.Stderr);
        await ahead.DisposeAsync();
        Assert.False(File.Exists(Path.Combine(scratch, FileTreeBackup.RdiffFileName)));
    }

    [Fact]
    public async Task A_cancelled_command_stops_it_and_leaves_no_archive()
    {
        var tree = Tree();
        var scratch = Path.Combine(_dir, "work", "backup");
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync(); // before tar could end: the outcome does not depend on timing
        var ahead = ArchiveAhead.Start(_tar, tree, scratch, cts.Token);
        var work = ahead.Take(tree, Path.Combine(scratch, FileTreeBackup.RdiffFileName));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => work!);
        await ahead.DisposeAsync();
        Assert.False(File.Exists(Path.Combine(scratch, FileTreeBackup.RdiffFileName)));
    }

    [Fact]
    public async Task A_tar_that_fails_mid_write_is_the_error_thrown()
    {
        // As tar on a full scratch disk: some of the archive written, then exit 2 with its message.
        var archive = Path.Combine(_dir, "failed.tar");
        var writer = new SlowArchiveWriter(chunks: 3, chunkBytes: 100_000, pause: TimeSpan.FromMilliseconds(5))
        {
            Exit = new ProcessResult(2, "", "tar: failed.tar: Cannot write: No space left on device\n"),
        };

        var e = await Assert.ThrowsAsync<ToolFailedException>(() => new Tar(writer).CreateWithDigestAsync(Tree(), archive, CancellationToken.None));
        Assert.True(DiskSpace.IsNoSpace(e), e.ToString());
        Assert.Equal(1, writer.Runs);
    }

    [Fact]
    public async Task A_command_cancelled_while_tar_writes_stops_both_and_throws()
    {
        var archive = Path.Combine(_dir, "cancelled.tar");
        using var cts = new CancellationTokenSource();
        var writer = new SlowArchiveWriter(chunks: 1000, chunkBytes: 10_000, pause: TimeSpan.FromMilliseconds(5)) { AfterChunk = (i, _) => { if (i == 5) cts.Cancel(); } };
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new Tar(writer).CreateWithDigestAsync(Tree(), archive, cts.Token).WaitAsync(limit.Token));
        Assert.False(limit.IsCancellationRequested);
        Assert.True(new FileInfo(archive).Length < 1000 * 10_000);
    }

    [Fact]
    public async Task Whatever_is_at_the_archives_path_is_replaced_by_a_regular_file_never_followed()
    {
        // A FIFO would block the digest's reads for ever; a link must not lead the write elsewhere.
        var fifo = Path.Combine(_dir, "fifo.tar");
        Assert.Equal(0, (await CliWrap.Cli.Wrap("mkfifo").WithArguments([fifo]).WithValidation(CommandResultValidation.None).ExecuteAsync()).ExitCode);
        var elsewhere = Path.Combine(_dir, "elsewhere");
        File.WriteAllText(elsewhere, "not to be touched");
        var link = Path.Combine(_dir, "link.tar");
        File.CreateSymbolicLink(link, elsewhere);
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1));

        foreach (var archive in new[] { fifo, link })
        {
            var (_, digest) = await _tar.CreateWithDigestAsync(Tree(), archive, CancellationToken.None).WaitAsync(limit.Token);
            Assert.Null(new FileInfo(archive).LinkTarget);
            Assert.Equal(SHA256.HashData(File.ReadAllBytes(archive)), digest);
        }

        Assert.Equal("not to be touched", File.ReadAllText(elsewhere));
    }

    [Fact]
    public async Task The_digest_follows_a_writer_slower_than_it_to_the_archives_last_byte()
    {
        // The follower catches up with the file's end many times before the writer ends, and must
        // still hash every byte written, the last ones included.
        var archive = Path.Combine(_dir, "slow.tar");
        var writer = new SlowArchiveWriter(chunks: 12, chunkBytes: 100_000, pause: TimeSpan.FromMilliseconds(15));

        var (warnings, digest) = await new Tar(writer).CreateWithDigestAsync(Tree(), archive, CancellationToken.None);

        Assert.Empty(warnings);
        Assert.Equal(12 * 100_000, new FileInfo(archive).Length);
        Assert.Equal(SHA256.HashData(File.ReadAllBytes(archive)), digest);
    }

    /// <summary>Stands in for a tar slowed by its source's disk: appends to the file named after -f, chunk by chunk, with pauses.</summary>
    private sealed class SlowArchiveWriter(int chunks, int chunkBytes, TimeSpan pause) : IProcessRunner
    {
        /// <summary>What the "tar" ends with.</summary>
        public ProcessResult Exit { get; init; } = new(0, "", "");

        /// <summary>Called after each chunk written (its index, the file).</summary>
        public Action<int, string>? AfterChunk { get; init; }

        public int Runs { get; private set; }

        public async Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken)
        {
            Runs++;
            var archive = spec.Arguments[spec.Arguments.ToList().IndexOf("-cpf") + 1];
            await using var file = new FileStream(archive, FileMode.Create, FileAccess.Write, FileShare.ReadWrite, 1);
            for (var i = 0; i < chunks; i++)
            {
                await Task.Delay(pause, cancellationToken);
                await file.WriteAsync(RandomNumberGenerator.GetBytes(chunkBytes), cancellationToken);
                AfterChunk?.Invoke(i, archive);
            }

            return Exit;
        }
    }
}
