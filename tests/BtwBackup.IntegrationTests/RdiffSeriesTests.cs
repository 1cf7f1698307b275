using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>fs on rdiff sources, through out/btw-backup, against the real tar and rdiff-backup.</summary>
public sealed class RdiffSeriesTests : IDisposable
{
    private readonly Sandbox _box = new();

    public void Dispose() => _box.Dispose();

    private async Task<string> InitAsync(string policy = "")
    {
        var src = _box.MakeTree("www");
        var wd = await _box.InitAsync("rdiff", src, "www");
        if (policy != "")
            File.AppendAllText(Path.Combine(wd, "source.conf"), policy);
        return src;
    }

    private static void Change(string src, string text) => File.WriteAllText(Path.Combine(src, "a.txt"), text);

    [Fact]
    public async Task Backups_with_changes_give_a_full_backup_then_increments()
    {
        var src = await InitAsync();
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("f", await _box.ShapeAsync("www"));
        Change(src, "beta\n");
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("fi", await _box.ShapeAsync("www"));
        Change(src, "gamma\n");
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("fii", await _box.ShapeAsync("www"));

        // The folder is named by the full backup's time; the listed increment times are after it.
        var list = (await _box.RunAsync("list", "www")).StdoutLines;
        var folder = Assert.Single(Directory.GetDirectories(Path.Combine(_box.Root, "www")));
        Assert.Equal(Path.GetFileName(folder), list[0]);
        Assert.True(string.CompareOrdinal(list[1].Trim(), list[0]) > 0 && string.CompareOrdinal(list[2].Trim(), list[1].Trim()) > 0);
        Assert.Equal(["backup.tar", "rdiff-backup-data"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task A_rewrite_with_the_same_size_and_mtime_is_an_increment_and_its_content_comes_back()
    {
        var src = await InitAsync();
        Change(src, "alpha\n");
        var file = Path.Combine(src, "a.txt");
        var mtime = File.GetLastWriteTimeUtc(file);
        await _box.QuietOkAsync("fs", src, "www");

        // The digest of the scratch tar (taken while the actors start) decides: not the size, not the time.
        Change(src, "omega\n");
        File.SetLastWriteTimeUtc(file, mtime);
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("fi", await _box.ShapeAsync("www"));

        var target = Path.Combine(_box.Dir, "restored");
        var restored = await _box.RunAsync("restore", "www", target);
        Assert.Equal(0, restored.ExitCode);
        Assert.Equal("omega\n", File.ReadAllText(Path.Combine(target, "a.txt")));
    }

    [Fact]
    public async Task A_backup_refused_for_a_missing_root_path_leaves_no_scratch_tar()
    {
        var src = await InitAsync();
        var wd = Path.GetDirectoryName(Directory.GetFiles(_box.ConfigDir, "source.conf", SearchOption.AllDirectories)[0])!;
        Directory.Delete(_box.Root);

        var refused = await _box.RunAsync("fs", src, "www");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("the root path does not exist", refused.Stderr);
        Assert.False(File.Exists(Path.Combine(wd, "backup", "backup.tar")), refused.ToString());

        Directory.CreateDirectory(_box.Root);
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("f", await _box.ShapeAsync("www"));
        Assert.False(File.Exists(Path.Combine(wd, "backup", "backup.tar")));
    }

    [Fact]
    public async Task Max_incremental_count_1_gives_full_increment_full()
    {
        var src = await InitAsync("max-incremental-count = 1\n");
        foreach (var text in new[] { "1\n", "2\n", "3\n" })
        {
            Change(src, text);
            await _box.QuietOkAsync("fs", src, "www");
        }

        Assert.Equal("fif", await _box.ShapeAsync("www"));
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(_box.Root, "www")).Length);
    }

    [Fact]
    public async Task Span_0s_gives_full_backups_only()
    {
        var src = await InitAsync("max-incremental-span = 0s\n");
        await _box.QuietOkAsync("fs", src, "www");
        Change(src, "other\n");
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("ff", await _box.ShapeAsync("www"));
    }

    [Fact]
    public async Task An_unchanged_source_adds_nothing_and_writes_the_log_line()
    {
        var src = await InitAsync();
        await _box.QuietOkAsync("fs", src, "www");
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("f", await _box.ShapeAsync("www"));
        var log = File.ReadAllLines(Path.Combine(_box.Root, "www", "log.txt"));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: no change in the data to be backed up: skipping creation of new incremental backup$", Assert.Single(log));

        // With every backup a full one, the skip names the full backup instead.
        File.AppendAllText(Path.Combine(Path.GetDirectoryName(Directory.GetFiles(_box.ConfigDir, "source.conf", SearchOption.AllDirectories)[0])!, "source.conf"), "max-incremental-count = 0\n");
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("f", await _box.ShapeAsync("www"));
        Assert.EndsWith(": no change in the data to be backed up: skipping creation of new full backup", File.ReadAllLines(Path.Combine(_box.Root, "www", "log.txt"))[1]);
    }

    [Fact]
    public async Task A_stored_backup_rewritten_since_it_was_stored_is_read_again_not_taken_for_what_was_stored()
    {
        var src = await InitAsync();
        await _box.QuietOkAsync("fs", src, "www");
        var mirror = Path.Combine(Assert.Single(Directory.GetDirectories(Path.Combine(_box.Root, "www"))), "backup.tar");
        var digests = BtwBackup.Platform.StampedDigests.Open(Path.Combine(_box.ConfigDir, BtwBackup.Backup.RdiffSeries.DigestsFileName), BtwBackup.Backup.RdiffSeries.DigestsMagic, 32);
        Assert.NotNull(digests.Known(mirror, BtwBackup.Platform.FileStamp.Of(mirror)));

        // The repository's copy is damaged in place, its size and modification time kept.
        var mtime = File.GetLastWriteTimeUtc(mirror);
        var damaged = File.ReadAllBytes(mirror);
        Array.Fill(damaged, (byte)'z', 0, 512);
        File.WriteAllBytes(mirror, damaged);
        File.SetLastWriteTimeUtc(mirror, mtime);

        // The source did not change, but the stored copy did: it is compared by its content, and
        // the increment stored makes the latest point the tree again.
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("fi", await _box.ShapeAsync("www"));
        var restored = await Sandbox.ShellAsync("tar", "-xOf", mirror, "./a.txt");
        Assert.True(restored.ExitCode == 0, restored.ToString());
        Assert.Equal(File.ReadAllText(Path.Combine(src, "a.txt")), restored.Stdout);
    }

    [Fact]
    public async Task A_same_size_change_within_the_second_is_still_stored()
    {
        var src = await InitAsync();
        await _box.QuietOkAsync("fs", src, "www");
        var mtime = File.GetLastWriteTimeUtc(Path.Combine(src, "a.txt"));
        Change(src, "ALPHA\n");
        File.SetLastWriteTimeUtc(Path.Combine(src, "a.txt"), mtime);
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("fi", await _box.ShapeAsync("www"));
    }

    [Fact]
    public async Task Every_point_in_time_restores_to_the_tree_as_it_was()
    {
        var src = await InitAsync();
        var states = new List<SortedDictionary<string, string>>();
        foreach (var text in new[] { "one\n", "two\n", "three\n" })
        {
            Change(src, text);
            File.WriteAllText(Path.Combine(src, "sub", "n-" + text.Trim()), text);
            states.Add(Sandbox.Snapshot(src));
            await _box.QuietOkAsync("fs", src, "www");
        }

        var repo = Assert.Single(Directory.GetDirectories(Path.Combine(_box.Root, "www")));
        var times = (await _box.RunAsync("list", "www")).StdoutLines.Select(l => l.Trim()).ToList();
        for (var i = 0; i < states.Count; i++)
        {
            var restored = Path.Combine(_box.Dir, "restored-" + i);
            var r = await Sandbox.ShellAsync("rdiff-backup", "restore", "--at", times[i] + "Z", repo, restored);
            Assert.True(r.ExitCode == 0, r.ToString());
            var tree = Directory.CreateDirectory(Path.Combine(_box.Dir, "tree-" + i)).FullName;
            var x = await Sandbox.ShellAsync("tar", "-C", tree, "-xpf", Path.Combine(restored, "backup.tar"));
            Assert.True(x.ExitCode == 0, x.ToString());
            Assert.Equal(states[i], Sandbox.Snapshot(tree));
        }
    }

    [Fact]
    public async Task Created_files_are_private_and_nothing_is_left_in_scratch()
    {
        var src = await InitAsync();
        await _box.QuietOkAsync("fs", src, "www");
        var folder = Assert.Single(Directory.GetDirectories(Path.Combine(_box.Root, "www")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(_box.Root, "www")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(folder, "backup.tar")));
        var scratch = Directory.GetDirectories(_box.ConfigDir, "backup", SearchOption.AllDirectories).Single();
        Assert.Empty(Directory.GetFileSystemEntries(scratch));
    }

    [Fact]
    public async Task A_failing_rdiff_backup_leaves_nothing_that_looks_like_a_backup_and_the_old_ones_intact()
    {
        var src = await InitAsync("max-incremental-span = 0s\n");
        await _box.QuietOkAsync("fs", src, "www");
        var before = Sandbox.Snapshot(Path.Combine(_box.Root, "www"));
        Change(src, "changed\n");

        // rdiff-backup that starts writing the new full backup, then dies.
        _box.PathOverride = _box.FaultyTools(("rdiff-backup",
            "if [ \"$1\" = backup ]; then mkdir -p \"$3/rdiff-backup-data\"; echo partial > \"$3/backup.tar\"; echo 'rdiff-backup: killed by the test' >&2; exit 9; fi\nexec /usr/bin/rdiff-backup \"$@\""));
        var r = await _box.RunAsync("fs", src, "www");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("rdiff-backup: killed by the test\nbtw-backup: rdiff-backup exited with code: 9\n", r.Stderr);
        Assert.Equal("", r.Stdout);

        _box.PathOverride = null;
        Assert.Equal("f", await _box.ShapeAsync("www"));
        Assert.Equal(before, Sandbox.Snapshot(Path.Combine(_box.Root, "www")));

        // The next run recovers and stores the change.
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("ff", await _box.ShapeAsync("www"));
    }

    [Fact]
    public async Task The_latest_point_is_read_from_the_mirror_itself_and_older_or_unsound_ones_are_rebuilt_by_rdiff_backup()
    {
        var src = await InitAsync();
        await _box.QuietOkAsync("fs", src, "www");
        var first = Sandbox.Snapshot(src);
        Change(src, "beta\n");
        await _box.QuietOkAsync("fs", src, "www");
        var latest = Sandbox.Snapshot(src);
        var points = (await _box.RunAsync("list", "www")).StdoutLines.Select(l => l.Trim()).ToList();

        // Every rdiff-backup run is noted.
        var calls = Path.Combine(_box.Dir, "rdiff-calls");
        _box.PathOverride = _box.FaultyTools(("rdiff-backup", $"echo \"$1\" >> '{calls}'\nexec /usr/bin/rdiff-backup \"$@\""));
        string[] Calls() => File.Exists(calls) ? File.ReadAllLines(calls) : [];

        Assert.Equal(0, (await _box.RunAsync("restore", "www", Path.Combine(_box.Dir, "latest"))).ExitCode);
        Assert.Equal(latest, Sandbox.Snapshot(Path.Combine(_box.Dir, "latest")));
        Assert.Empty(Calls());

        Assert.Equal(0, (await _box.RunAsync("restore", "--at", points[0], "www", Path.Combine(_box.Dir, "older"))).ExitCode);
        Assert.Equal(first, Sandbox.Snapshot(Path.Combine(_box.Dir, "older")));
        Assert.Contains("restore", Calls());

        // A second current_mirror marker (an increment that did not complete): the mirror may be
        // half new, so it is never read as the latest point.
        File.Delete(calls);
        var data = Path.Combine(Assert.Single(Directory.GetDirectories(Path.Combine(_box.Root, "www"))), "rdiff-backup-data");
        var marker = Assert.Single(Directory.GetFiles(data, "current_mirror.*"));
        var year = Path.GetFileName(marker)["current_mirror.".Length..][..4];
        File.Copy(marker, Path.Combine(data, Path.GetFileName(marker).Replace("." + year + "-", "." + (int.Parse(year, System.Globalization.CultureInfo.InvariantCulture) + 1) + "-", StringComparison.Ordinal)));
        await _box.RunAsync("restore", "www", Path.Combine(_box.Dir, "unsound"));
        Assert.NotEmpty(Calls());
    }

    [Fact]
    public async Task Lists_a_series_written_by_the_original()
    {
        // The original's layout: DST/<time>/ an rdiff-backup repository of backup.tar, made by hand here.
        var scratch = Directory.CreateDirectory(Path.Combine(_box.Dir, "scratch")).FullName;
        var series = Directory.CreateDirectory(Path.Combine(_box.Root, "old")).FullName;
        File.WriteAllText(Path.Combine(scratch, "backup.tar"), "v1");
        var repo = Path.Combine(series, "2016-01-01T12:00:00");
        Assert.Equal(0, (await Sandbox.ShellAsync("rdiff-backup", "backup", scratch, repo)).ExitCode);
        await Sandbox.NextSecondAsync();
        File.WriteAllText(Path.Combine(scratch, "backup.tar"), "v2");
        Assert.Equal(0, (await Sandbox.ShellAsync("rdiff-backup", "backup", scratch, repo)).ExitCode);
        File.WriteAllText(Path.Combine(series, "2016-01-02T00:00:00.tbz"), "");
        File.WriteAllText(Path.Combine(series, "log.txt"), "x\n");

        var lines = (await _box.RunAsync("list", "old")).StdoutLines;
        Assert.Equal(3, lines.Length);
        Assert.Equal("2016-01-01T12:00:00", lines[0]);
        Assert.Matches(@"^ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", lines[1]);
        Assert.Equal("2016-01-02T00:00:00.tbz", lines[2]);
    }

    /// <summary>rdiff-backup's own answer: its --parsable-output listing, as UTC times.</summary>
    private static async Task<List<DateTime>> RdiffListAsync(string repo)
    {
        var r = await Sandbox.ShellAsync("rdiff-backup", "--parsable-output", "list", "increments", repo);
        Assert.Equal(0, r.ExitCode);
        return [.. r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => DateTime.UnixEpoch.AddSeconds(long.Parse(l.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture)))];
    }

    [Fact]
    public async Task Backup_times_read_from_the_repository_are_what_rdiff_backup_lists()
    {
        // Rewritten in place (the folder's mtime unchanged) and replaced (a new inode), then with
        // the oldest increments removed: every shape a series' repository takes.
        var scratch = Directory.CreateDirectory(Path.Combine(_box.Dir, "scratch")).FullName;
        var repo = Path.Combine(Directory.CreateDirectory(Path.Combine(_box.Root, "hand")).FullName, "2016-01-01T12:00:00");
        for (var i = 0; i < 5; i++)
        {
            var file = Path.Combine(scratch, "backup.tar");
            if (i % 2 == 0)
                File.WriteAllText(file, "version " + i);
            else
            {
                File.WriteAllText(file + ".new", "version " + i);
                File.Move(file + ".new", file, overwrite: true);
            }

            Assert.Equal(0, (await Sandbox.ShellAsync("rdiff-backup", "backup", scratch, repo)).ExitCode);
            await Sandbox.NextSecondAsync();
        }

        var all = await RdiffListAsync(repo);
        Assert.Equal(5, all.Count);
        Assert.True(Directory.Exists(Path.Combine(repo, "rdiff-backup-data", "increments")), "no file increments: the test misses that folder");
        Assert.Equal(all, BtwBackup.Backup.RdiffRepository.ReadBackupTimes(repo));

        var epoch = ((long)(all[2] - DateTime.UnixEpoch).TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(0, (await Sandbox.ShellAsync("rdiff-backup", "--force", "remove", "increments", "--older-than", epoch, repo)).ExitCode);
        var left = await RdiffListAsync(repo);
        Assert.Equal(all[2..], left);
        Assert.Equal(left, BtwBackup.Backup.RdiffRepository.ReadBackupTimes(repo));
        Assert.Equal(left.Count - 1, (await _box.RunAsync("list", "hand")).StdoutLines.Count(l => l.StartsWith(' ')));

        // An interrupted increment (a second current_mirror marker): not read, rdiff-backup is asked.
        var data = Path.Combine(repo, "rdiff-backup-data");
        var marker = Directory.GetFiles(data, "current_mirror.*").Single();
        File.Copy(marker, Path.Combine(data, "current_mirror.2016-01-01T00:00:00Z.data"));
        Assert.Null(BtwBackup.Backup.RdiffRepository.ReadBackupTimes(repo));
        Assert.Null(BtwBackup.Backup.RdiffRepository.ReadBackupTimes(Path.Combine(_box.Root, "hand", "nothing-here")));
    }
}
