using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary><c>list --retention</c> on real series: the policy's marks, read from the configuration.</summary>
public sealed class RetentionTests : IDisposable
{
    private readonly Sandbox _box = new();

    public void Dispose() => _box.Dispose();

    [Fact]
    public async Task A_tar_series_is_marked_by_the_default_policy_in_the_configured_zone()
    {
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            defaults.retention { keep-daily = 3, keep-weekly = 2 }
            retention.timezone = "Europe/Berlin"
            """);
        var notes = Directory.CreateDirectory(Path.Combine(_box.Root, "notes")).FullName;
        // 23:30 UTC is already the next day in Berlin: the 27th at 23:30 UTC is the 28th there, the
        // day of the newest point, so it goes; in UTC the 26th's two points would share a day instead.
        foreach (var name in new[] { "2026-11-20T02:30:00", "2026-11-26T02:30:00", "2026-11-26T23:30:00", "2026-11-27T23:30:00", "2026-11-28T02:30:00" })
            File.WriteAllText(Path.Combine(notes, name + ".tbz"), name);
        File.WriteAllText(Path.Combine(notes, "log.txt"), "not a point");

        var r = await _box.RunAsync("list", "--retention", "notes");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(
            "2026-11-20T02:30:00.tbz  kept: weekly 2 of 2\n" +
            "2026-11-26T02:30:00.tbz  kept: daily 3 of 3\n" +
            "2026-11-26T23:30:00.tbz  kept: daily 2 of 3\n" +
            "2026-11-27T23:30:00.tbz  removed\n" +
            "2026-11-28T02:30:00.tbz  kept: newest, daily 1 of 3, weekly 1 of 2\n",
            r.Stdout);
        // list without the flag is the original's, unchanged; nothing was removed.
        Assert.Equal(5, (await _box.RunAsync("list", "notes")).StdoutLines.Length);
        Assert.Equal(6, Directory.GetFiles(notes).Length);
    }

    [Fact]
    public async Task In_an_rdiff_series_a_kept_point_keeps_every_newer_point_of_its_folder()
    {
        var www = _box.MakeTree("www");
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            retention.timezone = "UTC"
            sources {
              www { type = rdiff, path = "{{www}}", dst = "www", retention { keep-last = 2, keep-monthly = 2 } }
            }
            """);
        await _box.MakeRdiffFolderAsync("www", "2026-10-30T02:30:00", "2026-10-31T02:30:00", "2026-11-01T02:30:00");
        await _box.MakeRdiffFolderAsync("www", "2026-11-02T02:30:00", "2026-11-03T02:30:00", "2026-11-04T02:30:00");

        var r = await _box.RunAsync("list", "--retention", "www");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(
            "2026-10-30T02:30:00  removed\n" +
            " 2026-10-31T02:30:00  kept: monthly 2 of 2\n" +
            " 2026-11-01T02:30:00  kept: needed by 2026-10-31T02:30:00\n" +
            "2026-11-02T02:30:00  removed\n" +
            " 2026-11-03T02:30:00  kept: last 2 of 2\n" +
            " 2026-11-04T02:30:00  kept: newest, last 1 of 2, monthly 1 of 2\n", r.Stdout);
    }

    [Fact]
    public async Task A_series_without_a_policy_and_a_policy_that_keeps_nothing_by_rule_are_each_one_line()
    {
        Directory.CreateDirectory(Path.Combine(_box.Root, "notes"));
        var none = await _box.RunAsync("list", "--retention", "notes");
        Assert.Equal(1, none.ExitCode);
        Assert.Equal("btw-backup: notes has no retention policy: every point is kept (set defaults.retention, or retention in the source of this dst, in btw-backup.conf)\n", none.Stderr);

        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            defaults.retention { keep-daily = 0 }
            """);
        var empty = await _box.RunAsync("list", "--retention", "notes");
        Assert.Equal(1, empty.ExitCode);
        Assert.Equal($"btw-backup: {_box.ConfigDir}/btw-backup.conf:2: defaults.retention: a retention policy needs at least one keep-* rule (keep-last, keep-hourly, keep-daily, keep-weekly, "
            + "keep-monthly, keep-yearly or keep-within); without a retention block everything is kept\n", empty.Stderr);

        var www = _box.MakeTree("www");
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            sources { www { type = tar, path = "{{www}}", dst = "www", retention { keep-dayly = 7 } } }
            """);
        var typo = await _box.RunAsync("list", "www");
        Assert.Equal(1, typo.ExitCode);
        Assert.Contains("unknown setting 'keep-dayly' (did you mean keep-daily?)", typo.Stderr, StringComparison.Ordinal);
    }
}
