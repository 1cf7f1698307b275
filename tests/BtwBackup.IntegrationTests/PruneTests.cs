using System.Globalization;
using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary><c>prune</c> on real series, mirrored to the S3 test server and checked there by content.</summary>
[Collection(S3Collection.Name)]
public sealed class PruneTests : IDisposable
{
    private readonly S3TestServer _s3;
    private readonly Sandbox _box = new();
    private readonly string _prefix = "p" + Guid.NewGuid().ToString("N")[..10] + "/";

    public PruneTests(S3TestServer s3) => _s3 = s3;

    public void Dispose() => _box.Dispose();

    private void Configure(string sources) => _box.WriteConfig($$"""
        root-path = "{{_box.Root}}"
        retention.timezone = "UTC"
        sources {
          {{sources}}
        }
        destinations {
          offsite { uri = "s3://{{S3TestServer.Bucket}}/{{_prefix}}", s3cmd-config = "{{_s3.S3cmdConfig(_box.Dir)}}" }
        }
        """);

    private Task<SortedDictionary<string, string>> RemoteAsync() => _s3.DownloadAsync(_prefix, _box.Dir);

    /// <summary>Each point restores (restore --at) to the state it was made from, and verify finds the series sound.</summary>
    private async Task AssertEveryPointRestoresAsync(string dst, params string[] points)
    {
        foreach (var at in points)
        {
            var target = Path.Combine(_box.Dir, "restored-" + at.Replace(':', '-'));
            var restore = await _box.RunAsync("restore", "--at", at, dst, target);
            Assert.True(restore.ExitCode == 0, restore.ToString());
            Assert.Equal("state at " + at + "\n", File.ReadAllText(Path.Combine(target, "state.txt")));
        }

        var verify = await _box.RunAsync("verify", dst);
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    [Fact]
    public async Task With_after_pass_on_run_backs_up_then_prunes_then_syncs_and_the_destination_equals_root()
    {
        var notesSrc = _box.MakeTree("notes-src");
        Configure($$"""notes { type = tar, path = "{{notesSrc}}", dst = "notes", retention { keep-last = 2 } }""");
        File.AppendAllText(Path.Combine(_box.ConfigDir, "btw-backup.conf"), "retention.after-pass = on\n");
        var notes = Directory.CreateDirectory(Path.Combine(_box.Root, "notes")).FullName;
        var old = new[] { 20, 21, 22 }.Select(day => $"2026-11-{day}T02:30:00.tbz").ToList();
        foreach (var name in old)
            File.WriteAllText(Path.Combine(notes, name), "archive " + name);
        await _box.QuietOkAsync("sync", "--full");

        var run = await _box.RunAsync("run");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(@"^  notes  backed up \(full\) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.tbz at ", run.StdoutLines[1]);
        Assert.Equal("  pruned notes: removed 2 point(s), kept 2", run.StdoutLines[2]);
        Assert.Matches(@"^  -> offsite: uploaded \d+ .*, deleted 2, still pending 0$", run.StdoutLines[3]);
        // Kept: the newest old archive and the one this pass made.
        var archives = Directory.GetFiles(notes, "*.tbz").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, archives.Count);
        Assert.Equal(old[2], archives[0]);
        Assert.Equal(Sandbox.FileHashes(_box.Root), await RemoteAsync());
        Assert.Contains((await _box.RunAsync("sync-state", "--history")).StdoutLines, l => l.EndsWith(" +delete notes/" + old[0], StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_dry_run_changes_nothing_anywhere_and_prune_removes_what_the_policy_drops_here_and_on_the_destination()
    {
        var notesSrc = _box.MakeTree("notes-src");
        Configure($$"""notes { type = tar, path = "{{notesSrc}}", dst = "notes", retention { keep-last = 2 } }""");
        var notes = Directory.CreateDirectory(Path.Combine(_box.Root, "notes")).FullName;
        var names = Enumerable.Range(0, 6).Select(i => new DateTime(2026, 11, 20 + i, 2, 30, 0, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + ".tbz").ToList();
        foreach (var name in names)
            File.WriteAllText(Path.Combine(notes, name), "archive " + name);
        File.WriteAllText(Path.Combine(notes, "log.txt"), "the series' log\n");
        await _box.QuietOkAsync("sync", "--full");
        var remoteBefore = await RemoteAsync();
        Assert.Equal(Sandbox.FileHashes(_box.Root), remoteBefore);

        var rootBefore = Sandbox.FileHashes(_box.Root);
        var journal = Path.Combine(_box.ConfigDir, "sync-state.db");
        var journalBefore = File.ReadAllBytes(journal);
        var dry = await _box.RunAsync("prune", "--dry-run");
        Assert.True(dry.ExitCode == 0, dry.ToString());
        Assert.Equal("notes: would remove 4 point(s) and keep 2 (dry run: nothing changed)", dry.StdoutLines[0]);
        Assert.Equal("  2026-11-25T02:30:00.tbz  kept: newest, last 1 of 2", dry.StdoutLines[^1]);
        Assert.Equal(rootBefore, Sandbox.FileHashes(_box.Root));
        Assert.Equal(journalBefore, File.ReadAllBytes(journal));
        Assert.Equal(remoteBefore, await RemoteAsync());

        // Four of the folder's seven objects go: more than half, which a sync alone would refuse;
        // these were planned, and nothing else is deleted.
        var prune = await _box.RunAsync("prune");
        Assert.True(prune.ExitCode == 0, prune.ToString());
        Assert.Equal("notes: removed 4 point(s), kept 2", prune.StdoutLines[0]);
        Assert.Equal([names[4], names[5], "log.txt"], Directory.GetFiles(notes).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(Sandbox.FileHashes(_box.Root), await RemoteAsync());
        Assert.Equal("", (await _box.RunAsync("sync-state", "--list")).Stdout);
        Assert.Contains((await _box.RunAsync("sync-state", "--history")).StdoutLines, l => l.EndsWith(" +delete notes/" + names[0], StringComparison.Ordinal));

        // Pruned already: a second prune removes nothing.
        Assert.Equal("notes: removed 0 point(s), kept 2", (await _box.RunAsync("prune", "notes")).StdoutLines[0]);
    }

    [Fact]
    public async Task An_rdiff_series_loses_whole_folders_and_old_increments_and_every_kept_point_restores()
    {
        var wwwSrc = _box.MakeTree("www-src");
        Configure($$"""www { type = rdiff, path = "{{wwwSrc}}", dst = "www", retention { keep-last = 2 } }""");
        await _box.MakeRdiffFolderAsync("www", "2026-10-30T02:30:00", "2026-10-31T02:30:00");
        await _box.MakeRdiffFolderAsync("www", "2026-11-02T02:30:00", "2026-11-03T02:30:00", "2026-11-04T02:30:00");
        await _box.QuietOkAsync("sync", "--full");

        var prune = await _box.RunAsync("prune", "--json");
        Assert.True(prune.ExitCode == 0, prune.ToString());
        using (var json = System.Text.Json.JsonDocument.Parse(prune.Stdout))
        {
            var series = json.RootElement.GetProperty("series")[0];
            Assert.Equal(("www", 3, 2), (series.GetProperty("dst").GetString(), series.GetProperty("removed").GetInt32(), series.GetProperty("kept").GetInt32()));
        }

        // The first folder is gone; the second keeps its two newest points and is named after the older of them.
        Assert.Equal("2026-11-03T02:30:00\n 2026-11-04T02:30:00\n", (await _box.RunAsync("list", "www")).Stdout);
        Assert.Contains((await _box.RunAsync("status")).StdoutLines, l => l.StartsWith("  www  rdiff -> www (2 points, ", StringComparison.Ordinal));
        await AssertEveryPointRestoresAsync("www", "2026-11-03T02:30:00", "2026-11-04T02:30:00");
        Assert.Equal(Sandbox.FileHashes(_box.Root), await RemoteAsync());
        Assert.DoesNotContain((await RemoteAsync()).Keys, k => k.StartsWith("www/2026-10-30", StringComparison.Ordinal) || k.StartsWith("www/2026-11-02", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_the_destination_down_root_is_pruned_and_the_deletions_wait_for_the_next_sync()
    {
        var notesSrc = _box.MakeTree("notes-src");
        Configure($$"""notes { type = tar, path = "{{notesSrc}}", dst = "notes", retention { keep-last = 1 } }""");
        var notes = Directory.CreateDirectory(Path.Combine(_box.Root, "notes")).FullName;
        foreach (var day in new[] { 20, 21, 22 })
            File.WriteAllText(Path.Combine(notes, $"2026-11-{day}T02:30:00.tbz"), "archive " + day);
        await _box.QuietOkAsync("sync", "--full");

        // The server moves away (the same bucket, reached at a port where nothing listens).
        var config = Path.Combine(_box.Dir, "s3cmd.cfg");
        var reachable = File.ReadAllText(config);
        File.WriteAllText(config, System.Text.RegularExpressions.Regex.Replace(reachable, @"127\.0\.0\.1:\d+", "127.0.0.1:" + Sandbox.FreePort()));
        var prune = await _box.RunAsync("prune");
        Assert.Equal(1, prune.ExitCode);
        Assert.Equal("notes: removed 2 point(s), kept 1", prune.StdoutLines[0]);
        Assert.Equal(["2026-11-22T02:30:00.tbz"], Directory.GetFiles(notes).Select(Path.GetFileName));
        Assert.Equal(
            "Must sync: notes\nMust delete (planned): notes/2026-11-20T02:30:00.tbz\nMust delete (planned): notes/2026-11-21T02:30:00.tbz\n",
            (await _box.RunAsync("sync-state", "--list")).Stdout);

        File.WriteAllText(config, reachable);
        await _box.QuietOkAsync("sync");
        Assert.Equal(Sandbox.FileHashes(_box.Root), await RemoteAsync());
        Assert.Equal("", (await _box.RunAsync("sync-state", "--list")).Stdout);
    }

    [Fact]
    public async Task A_prune_interrupted_between_its_steps_is_finished_by_the_next_one()
    {
        var wwwSrc = _box.MakeTree("www-src");
        Configure($$"""www { type = rdiff, path = "{{wwwSrc}}", dst = "www", retention { keep-last = 2 } }""");
        await _box.MakeRdiffFolderAsync("www", "2026-11-02T02:30:00", "2026-11-03T02:30:00", "2026-11-04T02:30:00");
        var www = Path.Combine(_box.Root, "www");
        // Where a prune stopped: a whole removal renamed but not deleted, and a folder whose old
        // increment is gone (its marker written first) but which was not renamed yet.
        Directory.CreateDirectory(Path.Combine(www, ".pruned-2026-10-30T02:30:00", "rdiff-backup-data"));
        File.WriteAllText(Path.Combine(www, ".prune-rename-2026-11-02T02:30:00"), "2026-11-03T02:30:00");
        var removed = await Sandbox.ShellAsync("rdiff-backup", "--force", "remove", "increments", "--older-than", Sandbox.Epoch("2026-11-03T02:30:00").ToString(CultureInfo.InvariantCulture),
            Path.Combine(www, "2026-11-02T02:30:00"));
        Assert.True(removed.ExitCode == 0, removed.ToString());

        var prune = await _box.RunAsync("prune", "www");
        Assert.True(prune.ExitCode == 0, prune.ToString());
        Assert.Equal("www: removed 0 point(s), kept 2", prune.StdoutLines[0]);
        Assert.Equal(["2026-11-03T02:30:00"], Directory.GetFileSystemEntries(www).Select(Path.GetFileName));
        Assert.Equal("2026-11-03T02:30:00\n 2026-11-04T02:30:00\n", (await _box.RunAsync("list", "www")).Stdout);
        // (The interrupted prune had journaled its sync at the destinations; this made-up state did not.)
        await _box.QuietOkAsync("sync", "--full");
        var verify = await _box.RunAsync("verify", "www");
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    [Theory]
    [InlineData("prune-planned")]
    [InlineData("prune-hidden")]
    [InlineData("prune-increments-removed")]
    [InlineData("sync-deleted")]
    public async Task Killed_at_any_step_a_prune_is_finished_by_the_next_run_and_nothing_outside_its_plan_is_deleted(string crashAt)
    {
        var wwwSrc = _box.MakeTree("www-src");
        var otherSrc = _box.MakeTree("other-src");
        Configure($$"""
            www { type = rdiff, path = "{{wwwSrc}}", dst = "www", retention { keep-last = 2 } }
            other { type = tar, path = "{{otherSrc}}", dst = "other", retention { keep-last = 1 } }
            """);
        // www: a folder that goes whole, and one that loses its oldest point and is renamed.
        await _box.MakeRdiffFolderAsync("www", "2026-10-30T02:30:00", "2026-10-31T02:30:00");
        await _box.MakeRdiffFolderAsync("www", "2026-11-02T02:30:00", "2026-11-03T02:30:00", "2026-11-04T02:30:00");
        // other: a series this prune does not touch (it is not named), with points its policy would drop.
        var other = Directory.CreateDirectory(Path.Combine(_box.Root, "other")).FullName;
        foreach (var day in new[] { 20, 21 })
            File.WriteAllText(Path.Combine(other, $"2026-11-{day}T02:30:00.tbz"), "archive " + day);
        await _box.QuietOkAsync("sync", "--full");
        var otherBefore = Sandbox.FileHashes(other);

        _box.Environment = new Dictionary<string, string?> { ["BTW_BACKUP_CRASH_AT"] = crashAt };
        var killed = await _box.RunAsync("prune", "www");
        Assert.True(killed.ExitCode == 137, $"expected a kill -9 at {crashAt}: {killed}");
        _box.Environment = new Dictionary<string, string?>();
        // Whatever the step, the plan was journaled before anything was removed.
        Assert.Contains("Must delete (planned): www/2026-10-30T02:30:00\n", (await _box.RunAsync("sync-state", "--list")).Stdout, StringComparison.Ordinal);
        var left = Directory.GetFileSystemEntries(Path.Combine(_box.Root, "www")).Select(Path.GetFileName).ToList();
        Assert.Equal(crashAt == "prune-hidden", left.Any(n => n!.StartsWith(".pruned-", StringComparison.Ordinal)));
        Assert.Equal(crashAt == "prune-increments-removed", left.Any(n => n!.StartsWith(".prune-rename-", StringComparison.Ordinal)));

        // The next run: a prune finishes what the killed one left, a sync sends what waits.
        var again = await _box.RunAsync("prune", "www");
        Assert.True(again.ExitCode == 0, again.ToString());
        await _box.QuietOkAsync("sync");

        Assert.Equal("2026-11-03T02:30:00\n 2026-11-04T02:30:00\n", (await _box.RunAsync("list", "www")).Stdout);
        Assert.Equal(["2026-11-03T02:30:00"], Directory.GetFileSystemEntries(Path.Combine(_box.Root, "www")).Select(Path.GetFileName));
        await AssertEveryPointRestoresAsync("www", "2026-11-03T02:30:00", "2026-11-04T02:30:00");
        Assert.Equal(otherBefore, Sandbox.FileHashes(other));
        Assert.Equal(Sandbox.FileHashes(_box.Root), await RemoteAsync());
        Assert.Equal("", (await _box.RunAsync("sync-state", "--list")).Stdout);
    }

    [Fact]
    public async Task A_series_reached_through_a_symbolic_link_is_not_pruned_and_what_it_points_to_stays()
    {
        var src = _box.MakeTree("evil-src");
        Configure($$"""evil { type = tar, path = "{{src}}", dst = "evil", retention { keep-last = 1 } }""");
        var outside = Directory.CreateDirectory(Path.Combine(_box.Dir, "outside", "series")).FullName;
        foreach (var day in new[] { 20, 21, 22 })
            File.WriteAllText(Path.Combine(outside, $"2026-11-{day}T02:30:00.tbz"), "archive " + day);
        Directory.CreateDirectory(_box.Root);
        File.CreateSymbolicLink(Path.Combine(_box.Root, "evil"), outside);
        var before = Sandbox.FileHashes(outside);

        var prune = await _box.RunAsync("prune", "evil");
        Assert.Equal(1, prune.ExitCode);
        Assert.Equal($"btw-backup: evil: {Path.Combine(_box.Root, "evil")} is a symbolic link (to {outside}); prune deletes only inside root: nothing was pruned\n", prune.Stderr);
        Assert.Equal(before, Sandbox.FileHashes(outside));
    }

    [Fact]
    public async Task A_folder_rdiff_backup_cannot_read_fails_its_series_in_rdiff_backups_words_and_removes_nothing()
    {
        var src = _box.MakeTree("www-src");
        Configure($$"""www { type = rdiff, path = "{{src}}", dst = "www", retention { keep-last = 1 } }""");
        var folder = Directory.CreateDirectory(Path.Combine(_box.Root, "www", "2026-11-02T02:30:00")).FullName;
        File.WriteAllText(Path.Combine(folder, "junk"), "not a repository");
        var before = Sandbox.FileHashes(_box.Root);

        var prune = await _box.RunAsync("prune");
        Assert.Equal(1, prune.ExitCode);
        Assert.Equal($"btw-backup: www: ERROR: Path '{folder}' couldn't be identified as being within an existing backup repository"
            + " / ERROR: Action list failed on step check / rdiff-backup exited with code: 1\n", prune.Stderr);
        Assert.Equal(before, Sandbox.FileHashes(_box.Root));
    }

    [Fact]
    public async Task A_db_conf_that_became_wrong_is_one_line_for_list_retention_and_prune_never_a_hang()
    {
        var src = _box.MakeTree("www-src");
        Configure($$"""www { type = tar, path = "{{src}}", dst = "www" }""");
        Directory.CreateDirectory(Path.Combine(_box.ConfigDir, "db"));
        File.WriteAllText(Path.Combine(_box.ConfigDir, "db", "shop.conf"), "retention { keep-lats = 1 }\n");
        await _box.MakeRdiffFolderAsync("db/shop", "2026-11-02T02:30:00");
        File.Move(Path.Combine(_box.Root, "db", "shop", "2026-11-02T02:30:00", "backup.tar"), Path.Combine(_box.Root, "db", "shop", "2026-11-02T02:30:00", "shop.dump"));

        foreach (var args in new[] { new[] { "list", "--retention", "db/shop" }, ["prune", "--dry-run", "db/shop"], ["prune", "db/shop"] })
        {
            var r = await _box.RunAsync(args).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(1, r.ExitCode);
            Assert.Equal($"btw-backup: {Path.Combine(_box.ConfigDir, "db", "shop.conf")}:1: retention: unknown setting 'keep-lats' (did you mean keep-last?)\n", r.Stderr);
        }
    }

    [Fact]
    public async Task A_series_with_an_interrupted_increment_is_not_pruned_until_the_next_backup_regresses_it()
    {
        var wwwSrc = _box.MakeTree("www-src");
        Configure($$"""www { type = rdiff, path = "{{wwwSrc}}", dst = "www", retention { keep-last = 1 } }""");
        await _box.MakeRdiffFolderAsync("www", "2026-11-02T02:30:00", "2026-11-03T02:30:00");
        // What a kill -9 mid-increment leaves: a second current_mirror marker.
        var data = Path.Combine(_box.Root, "www", "2026-11-02T02:30:00", "rdiff-backup-data");
        File.Copy(Directory.GetFiles(data, "current_mirror.*").Single(), Path.Combine(data, "current_mirror.2026-11-04T02:30:00Z.data"));
        var before = Sandbox.FileHashes(_box.Root);

        var prune = await _box.RunAsync("prune");
        Assert.Equal(1, prune.ExitCode);
        Assert.Equal("btw-backup: www/2026-11-02T02:30:00: interrupted increment: the next backup regresses it; nothing was pruned (prune after that backup)\n", prune.Stderr);
        Assert.Equal(before, Sandbox.FileHashes(_box.Root));
        Assert.Equal("", (await _box.RunAsync("sync-state", "--list")).Stdout);
    }
}
