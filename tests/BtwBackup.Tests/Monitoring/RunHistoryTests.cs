using BtwBackup.Actors;
using BtwBackup.Monitoring;
using BtwBackup.Protocol;
using Xunit;

namespace BtwBackup.Tests.Monitoring;

public sealed class RunHistoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-history-").FullName;

    private string PathOf => Path.Combine(_dir, RunHistory.FileName);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static RunRecord Source(string name, DateTime ended, string result = "increment", string? error = null) =>
        new(RunRecord.SourceKind, name, ended.AddSeconds(-3), ended, result, error is null ? 1000 : null, null, error);

    [Fact]
    public async Task Runs_are_read_back_oldest_first_filtered_by_name_and_time()
    {
        var history = new RunHistory(PathOf, TimeSpan.FromDays(90));
        var t = DateTime.UtcNow.AddHours(-5);
        await history.AppendAsync([Source("home", t.AddHours(2)), Source("db", t, SourceRun.Failed, "pg_dump: no such database")]);
        await history.AppendAsync([new RunRecord(RunRecord.SyncKind, "offsite", t.AddHours(3), t.AddHours(3).AddSeconds(9), RunRecord.Synced, null, 4096, null)]);

        var all = RunHistory.Read(PathOf);
        Assert.Equal(["db", "home", "offsite"], all.Select(r => r.Name));
        Assert.Equal("pg_dump: no such database", all[0].Error);
        Assert.False(all[0].Ok);
        Assert.Equal(4096, all[2].Uploaded);
        Assert.Equal(9, all[2].Seconds, precision: 3);
        Assert.Equal(["home"], RunHistory.Read(PathOf, "home").Select(r => r.Name));
        Assert.Equal(["home", "offsite"], RunHistory.Read(PathOf, since: t.AddHours(1)).Select(r => r.Name));
        Assert.Equal(DateTimeKind.Utc, all[0].Ended.Kind);
    }

    [Fact]
    public async Task A_line_cut_by_a_crash_is_skipped_and_the_next_run_starts_on_a_line_of_its_own()
    {
        var history = new RunHistory(PathOf, TimeSpan.FromDays(90));
        var t = DateTime.UtcNow.AddHours(-1);
        await history.AppendAsync([Source("home", t)]);
        // A crash mid-append: half a line, no newline.
        await File.AppendAllTextAsync(PathOf, RunHistory.Line(Source("db", t))[..25]);
        await history.AppendAsync([Source("etc", t.AddMinutes(1))]);

        Assert.Equal(["home", "etc"], RunHistory.Read(PathOf).Select(r => r.Name));
    }

    [Fact]
    public async Task What_is_older_than_the_window_is_dropped_at_compaction_and_the_rest_kept()
    {
        var history = new RunHistory(PathOf, TimeSpan.FromDays(30));
        var now = DateTime.UtcNow;
        await history.AppendAsync([Source("old", now.AddDays(-31)), Source("recent", now.AddDays(-29))]);
        await File.AppendAllTextAsync(PathOf, "not json\n");
        await history.CompactAsync(now);

        Assert.Equal(["recent"], RunHistory.Read(PathOf).Select(r => r.Name));
        Assert.Single(File.ReadAllLines(PathOf));
        Assert.False(File.Exists(PathOf + ".partial"));
    }

    [Fact]
    public async Task Compaction_never_writes_through_a_link_planted_as_its_partial_file_and_the_history_is_private()
    {
        var history = new RunHistory(PathOf, TimeSpan.FromDays(30));
        var now = DateTime.UtcNow;
        await history.AppendAsync([Source("old", now.AddDays(-31)), Source("recent", now.AddDays(-1))]);
        var victim = Path.Combine(_dir, "victim");
        File.WriteAllText(victim, "precious\n");
        File.CreateSymbolicLink(PathOf + ".partial", victim);

        await history.CompactAsync(now);

        Assert.Equal("precious\n", File.ReadAllText(victim));
        Assert.Equal(["recent"], RunHistory.Read(PathOf).Select(r => r.Name));
        Assert.False(File.Exists(PathOf + ".partial"));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(PathOf));
    }

    [Theory]
    [InlineData("")]
    [InlineData("[1,2]")]
    [InlineData("{\"kind\":\"other\",\"name\":\"x\",\"result\":\"full\"}")]
    [InlineData("{\"kind\":\"source\",\"result\":\"full\"}")]
    [InlineData("{\"kind\":\"source\",\"name\":\"x\",\"result\":\"full\",\"ended\":\"yesterday\"}")]
    public void A_line_btw_backup_did_not_write_is_no_run(string line) => Assert.Null(RunHistory.Parse(line));

    [Fact]
    public void A_source_run_and_a_sync_round_become_runs_as_the_keeper_records_them()
    {
        var at = new DateTime(2026, 12, 4, 2, 0, 10, DateTimeKind.Utc);
        var unchanged = StatusKeeper.Runs(new SourceEnded("home", new SourceRun("unchanged", null, null, at, 10, 0)));
        Assert.Equal(new RunRecord(RunRecord.SourceKind, "home", at.AddSeconds(-10), at, "unchanged", null, null, null), Assert.Single(unchanged));

        var synced = StatusKeeper.Runs(new DestinationsSynced(
            [
                new DestinationSync("offsite", []) { Started = at.AddSeconds(-4), BytesUploaded = 77, Pending = 0 },
                new DestinationSync("other", ["other: bucket gone", "other: again"]) { Started = at.AddSeconds(-4) },
            ], at, 1));
        Assert.Equal(RunRecord.Synced, synced[0].Result);
        Assert.Equal(77, synced[0].Uploaded);
        Assert.Equal(SourceRun.Failed, synced[1].Result);
        Assert.Equal("other: bucket gone", synced[1].Error);
    }
}
