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
            "echo garbage > \"$6\"\necho 'tar: ./sub: Cannot open: Permission denied' >&2\nexit 2"));
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
