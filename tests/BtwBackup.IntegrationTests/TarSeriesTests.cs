using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>fs on tar sources, through out/btw-backup, against the real tar.</summary>
public sealed class TarSeriesTests : IDisposable
{
    private readonly Sandbox _box = new();

    public void Dispose() => _box.Dispose();

    [Fact]
    public async Task Stores_one_tbz_per_change_and_drops_identical_ones_with_a_log_line()
    {
        var src = _box.MakeTree("notes");
        await _box.InitAsync("tar", src, "notes");
        await _box.QuietOkAsync("fs", src, "notes");
        await _box.QuietOkAsync("fs", src, "notes");
        var files = Directory.GetFiles(Path.Combine(_box.Root, "notes"), "*.tbz");
        Assert.Single(files);
        var log = Assert.Single(File.ReadAllLines(Path.Combine(_box.Root, "notes", "log.txt")));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.tbz: no change in the data to be backed up: dropping backup$", log);

        File.AppendAllText(Path.Combine(src, "a.txt"), "more\n");
        await _box.QuietOkAsync("fs", src, "notes");
        var list = (await _box.RunAsync("list", "notes")).StdoutLines;
        Assert.Equal(2, list.Length);
        Assert.All(list, l => Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.tbz$", l));
        Assert.Equal(list, Directory.GetFiles(Path.Combine(_box.Root, "notes"), "*.tbz").Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_archive_extracts_to_the_source_tree_minus_excluded_folders()
    {
        var src = _box.MakeTree("notes");
        Directory.CreateDirectory(Path.Combine(src, "cache"));
        File.WriteAllText(Path.Combine(src, "cache", "NOBACKUP-TAG"), "");
        File.WriteAllText(Path.Combine(src, "cache", "big.tmp"), "not wanted");
        await _box.InitAsync("tar", src, "notes");
        await _box.QuietOkAsync("fs", src, "notes");

        var archive = Assert.Single(Directory.GetFiles(Path.Combine(_box.Root, "notes"), "*.tbz"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(archive));
        var tree = Directory.CreateDirectory(Path.Combine(_box.Dir, "extracted")).FullName;
        Assert.Equal(0, (await Sandbox.ShellAsync("tar", "-C", tree, "-xpjf", archive)).ExitCode);

        var expected = Sandbox.Snapshot(src);
        expected.Remove(Path.Combine("cache", "NOBACKUP-TAG"));
        expected.Remove(Path.Combine("cache", "big.tmp"));
        Assert.Equal(expected, Sandbox.Snapshot(tree));
    }

    [Fact]
    public async Task The_archive_is_compressed_on_every_core_by_lbzip2_into_a_stream_the_reference_bzip2_reads()
    {
        var src = _box.MakeTree("notes");
        File.WriteAllBytes(Path.Combine(src, "big.bin"), System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 200_000).Select(i => i + "\n"))));
        await _box.InitAsync("tar", src, "notes");
        var marker = Path.Combine(_box.Dir, "lbzip2-ran");
        _box.PathOverride = _box.FaultyTools(("lbzip2", $"echo \"$*\" >> '{marker}'\nexec /usr/bin/lbzip2 \"$@\""));
        await _box.QuietOkAsync("fs", src, "notes");

        Assert.True(File.Exists(marker), "lbzip2 was not run");
        var archive = Assert.Single(Directory.GetFiles(Path.Combine(_box.Root, "notes"), "*.tbz"));
        // The reference bzip2 (what the original and `tar -xjf` use) checks every block of it.
        var check = await Sandbox.ShellAsync("bzip2", "-t", archive);
        Assert.True(check.ExitCode == 0, check.Stderr);
        var tree = Directory.CreateDirectory(Path.Combine(_box.Dir, "extracted")).FullName;
        Assert.Equal(0, (await Sandbox.ShellAsync("tar", "-C", tree, "-xpjf", archive)).ExitCode);
        Assert.Equal(Sandbox.Snapshot(src), Sandbox.Snapshot(tree));

        // verify reads it back with the same compressor, and restore too.
        var verify = await _box.RunAsync("verify", "notes");
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
        var restored = Path.Combine(_box.Dir, "restored");
        var restore = await _box.RunAsync("restore", "notes", restored);
        Assert.True(restore.ExitCode == 0, restore.Stdout + restore.Stderr);
        Assert.Equal(Sandbox.Snapshot(src), Sandbox.Snapshot(restored));
    }

    [Fact]
    public async Task Without_lbzip2_the_archive_is_made_by_bzip2_as_the_original_did()
    {
        var src = _box.MakeTree("notes");
        await _box.InitAsync("tar", src, "notes");
        var bin = Directory.CreateDirectory(Path.Combine(_box.Dir, "bin")).FullName;
        var marker = Path.Combine(_box.Dir, "bzip2-ran");
        File.CreateSymbolicLink(Path.Combine(bin, "tar"), "/usr/bin/tar");
        File.WriteAllText(Path.Combine(bin, "bzip2"), $"#!/bin/sh\necho \"$*\" >> '{marker}'\nexec /usr/bin/bzip2 \"$@\"\n");
        File.SetUnixFileMode(Path.Combine(bin, "bzip2"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _box.PathOverride = bin;
        await _box.QuietOkAsync("fs", src, "notes");

        Assert.True(File.Exists(marker), "bzip2 was not run");
        var archive = Assert.Single(Directory.GetFiles(Path.Combine(_box.Root, "notes"), "*.tbz"));
        var tree = Directory.CreateDirectory(Path.Combine(_box.Dir, "extracted")).FullName;
        Assert.Equal(0, (await Sandbox.ShellAsync("tar", "-C", tree, "-xpjf", archive)).ExitCode);
        Assert.Equal(Sandbox.Snapshot(src), Sandbox.Snapshot(tree));
    }

    [Fact]
    public async Task A_tree_that_changes_while_tar_reads_it_is_stored_with_a_warning_in_the_log()
    {
        var src = _box.MakeTree("notes");
        await _box.InitAsync("tar", src, "notes");
        // GNU tar exits 1 for "file changed as we read it"; the archive is still complete.
        _box.PathOverride = _box.FaultyTools(("tar",
            "/usr/bin/tar \"$@\" || exit $?\necho 'tar: ./a.txt: file changed as we read it' >&2\nexit 1"));
        await _box.QuietOkAsync("fs", src, "notes");
        Assert.Single(Directory.GetFiles(Path.Combine(_box.Root, "notes"), "*.tbz"));
        Assert.Contains("file changed as we read it", File.ReadAllText(Path.Combine(_box.ConfigDir, "btw-backup.log")));
    }

    [Fact]
    public async Task A_failed_tar_leaves_no_partial_archive()
    {
        var src = _box.MakeTree("notes");
        await _box.InitAsync("tar", src, "notes");
        await _box.QuietOkAsync("fs", src, "notes");
        File.AppendAllText(Path.Combine(src, "a.txt"), "more\n");
        _box.PathOverride = _box.FaultyTools(("tar",
            "echo garbage > \"$7\"\necho 'tar: ./sub: Cannot open: Permission denied' >&2\nexit 2"));
        var r = await _box.RunAsync("fs", src, "notes");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("tar: ./sub: Cannot open: Permission denied\nbtw-backup: tar exited with code: 2\n", r.Stderr);
        Assert.Single(Directory.GetFileSystemEntries(Path.Combine(_box.Root, "notes")));
    }

    [Fact]
    public async Task Leftovers_of_a_killed_run_are_removed_by_the_next_one()
    {
        var src = _box.MakeTree("notes");
        await _box.InitAsync("tar", src, "notes");
        var dir = Directory.CreateDirectory(Path.Combine(_box.Root, "notes")).FullName;
        File.WriteAllText(Path.Combine(dir, ".2020-01-01T00:00:00.tbz.partial"), "half an archive");
        Directory.CreateDirectory(Path.Combine(dir, ".2020-01-01T00:00:00.partial", "rdiff-backup-data"));
        File.WriteAllText(Path.Combine(dir, ".keep.partial"), "not ours");
        await _box.QuietOkAsync("fs", src, "notes");
        Assert.Equal([".keep.partial"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Where(n => n!.StartsWith('.')));
        Assert.Single((await _box.RunAsync("list", "notes")).StdoutLines);
    }

    [Fact]
    public async Task Uid_gives_created_files_to_that_owner_by_name_or_number()
    {
        var src = _box.MakeTree("notes");
        await _box.InitAsync("tar", src, "notes");
        var nobody = (await Sandbox.ShellAsync("id", "-u", "nobody")).Stdout.Trim();
        var nogroup = (await Sandbox.ShellAsync("id", "-g", "nobody")).Stdout.Trim();
        var groupName = (await Sandbox.ShellAsync("id", "-gn", "nobody")).Stdout.Trim();
        await _box.QuietOkAsync("fs", "-u", "nobody:" + groupName, src, "notes");
        var archive = Assert.Single(Directory.GetFiles(Path.Combine(_box.Root, "notes"), "*.tbz"));
        var owner = (await Sandbox.ShellAsync("stat", "-c", "%u:%g", archive)).Stdout.Trim();
        Assert.Equal(nobody + ":" + nogroup, owner);
        Assert.Equal(nobody + ":" + nogroup, (await Sandbox.ShellAsync("stat", "-c", "%u:%g", Path.Combine(_box.Root, "notes"))).Stdout.Trim());

        // A user alone leaves the group as it is, as chown does (root's, here).
        await _box.QuietOkAsync("fs", "-u", nobody, src, "notes");
        Assert.Equal(nobody + ":0", (await Sandbox.ShellAsync("stat", "-c", "%u:%g", Path.Combine(_box.Root, "notes", "log.txt"))).Stdout.Trim());

        var bad = await _box.RunAsync("fs", "-u", "no-such-user-here", src, "notes");
        Assert.Equal(2, bad.ExitCode);
        Assert.EndsWith("btw-backup fs: error: argument -u/--uid: unknown user: no-such-user-here\n", bad.Stderr);
    }
}
