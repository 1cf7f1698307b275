using System.Collections.Immutable;
using System.Text.Json;
using BtwBackup.Cli;
using BtwBackup.Daemon;
using BtwBackup.Protocol;
using BtwBackup.Restore;
using BtwBackup.Backup;
using Xunit;

namespace BtwBackup.Tests.Cli;

/// <summary>The CLI's rendering of typed replies, without any actor: what a person reads, what a program parses.</summary>
public class RenderingTests
{
    private static readonly DateTime At = new(2026, 12, 3, 2, 30, 0, DateTimeKind.Utc);

    private static PassSummary Pass() => new(At, 12.5,
        [
            new PassSource("www", "rdiff", "www", new SourceRun("increment", "2026-12-01T02:30:00", null, At, 3.2, 2048)),
            new PassSource("db", "pg-dump", "db", new SourceRun(SourceRun.Failed, null, "pg_dump exited with 1", At, 0.4, 0)),
        ],
        [new DestinationRun("s3", 4, 3 * 1048576, 1, 2, ["s3: www/x: timed out"])])
    {
        Pruned = [new PassPrune("www", 3, 9, null), new PassPrune("db", 0, 0, "db: an increment was interrupted")],
    };

    private static PruneReport Prune(bool dryRun) => new(
    [
        new PrunedSeries("www", dryRun, null,
        [
            new PrunedPoint("2026-11-01T02:30:00", "2026-11-01T02:30:00", false, []),
            new PrunedPoint("2026-11-02T02:30:00", "2026-11-01T02:30:00", true, ["needed by 2026-11-03T02:30:00"]),
            new PrunedPoint("2026-11-03T02:30:00.tbz", null, true, ["newest", "daily 1"]),
        ]),
        new PrunedSeries("db", dryRun, "db: cannot read the series", []),
    ]);

    [Fact]
    public void A_pass_is_one_line_per_source_prune_and_destination_and_its_failures_are_counted_on_stderr()
    {
        var rendered = Rendering.Render(new RunPass([], Json: false), CommandReply.Of(Pass(), ok: false));

        Assert.Equal(ExitCode.Error, rendered.ExitCode);
        Assert.StartsWith("pass started ", rendered.Stdout[0]);
        Assert.EndsWith(", 12.5 s: with failures", rendered.Stdout[0]);
        Assert.Matches(@"^  www  backed up \(increment on 2026-12-01T02:30:00\) at .* in 3\.2 s, 2\.0 KiB$", rendered.Stdout[1]);
        Assert.Matches(@"^  db   failed at .* after 0\.4 s: pg_dump exited with 1$", rendered.Stdout[2]);
        Assert.Equal(
            ["  pruned www: removed 3 point(s), kept 9", "  not pruned db: db: an increment was interrupted",
             "  -> s3: uploaded 4 (3.0 MiB), deleted 1, still pending 2", "     s3: www/x: timed out"],
            rendered.Stdout.Skip(3));
        Assert.Equal(
            ["btw-backup: 1 of 2 sources failed", "btw-backup: 1 series could not be pruned", "btw-backup: some files were not synced; they stay pending for the next sync"],
            rendered.Stderr);
    }

    [Fact]
    public void A_cluster_pass_is_one_block_per_host_and_a_host_without_a_pass_says_why()
    {
        var report = new ClusterPassSummary(At, 4.25, [new HostResult("alpha", Pass(), []), new HostResult("beta", null, ["unreachable since 2026-12-03 02:30:00: its pass is not known"])]);

        var rendered = Rendering.Render(new RunPass([], Json: false), CommandReply.Of(report, report.Ok));

        Assert.False(report.Ok);
        Assert.EndsWith(", 4.3 s: with failures", rendered.Stdout[0]);
        Assert.Equal("host alpha:", rendered.Stdout[1]);
        Assert.Matches(@"^    www  backed up \(increment", rendered.Stdout[2]);
        Assert.Equal(["host beta:", "  unreachable since 2026-12-03 02:30:00: its pass is not known"], rendered.Stdout.TakeLast(2));
        Assert.Equal("btw-backup: beta: unreachable since 2026-12-03 02:30:00: its pass is not known", rendered.Stderr[0]);
        Assert.Contains("btw-backup: alpha: 1 of 2 sources failed", rendered.Stderr);
    }

    [Fact]
    public void Json_is_the_report_itself_in_snake_case_without_the_wire_discriminator()
    {
        var rendered = Rendering.Render(new RunPass([], Json: true), CommandReply.Of(Pass(), ok: false));

        using var json = JsonDocument.Parse(Assert.Single(rendered.Stdout));
        var root = json.RootElement;
        Assert.False(root.TryGetProperty("report", out _));
        Assert.False(root.GetProperty("ok").GetBoolean());
        Assert.Equal("2026-12-03T02:30:00Z", root.GetProperty("started").GetString());
        Assert.Equal("pg_dump exited with 1", root.GetProperty("sources")[1].GetProperty("run").GetProperty("error").GetString());
        Assert.Equal(3 * 1048576, root.GetProperty("destinations")[0].GetProperty("bytes_uploaded").GetInt64());
        // The counts on stderr stay: a script reads the JSON, a person the reason of the exit code.
        Assert.Equal(3, rendered.Stderr.Count);
    }

    [Fact]
    public void Status_shows_the_daemon_each_source_with_its_series_and_each_destination()
    {
        var report = new StatusReport(new DaemonState(false, null, null, null, "0 3 * * *", At),
            [new SourceState("www", "rdiff", "www", null, Busy: true, Restarts: 1, LastFailure: "disk full", NextRun: null) { Usage = new SeriesUsage(12, 3L << 30) }],
            [new DestinationState("s3", 2, ["push www/a", "sync www"], null, "timed out", At, 0), new DestinationState("b2", null, [], null, null, null, 2)]);

        var rendered = Rendering.Render(new ShowStatus(Json: false), CommandReply.Of(report, ok: true));

        Assert.Equal(ExitCode.Ok, rendered.ExitCode);
        Assert.Empty(rendered.Stderr);
        Assert.Equal("daemon: not running", rendered.Stdout[0]);
        Assert.StartsWith("schedule: \"0 3 * * *\", next pass ", rendered.Stdout[1]);
        Assert.EndsWith(" if the daemon runs", rendered.Stdout[1]);
        Assert.Equal("  www  rdiff -> www (12 points, 3.00 GiB): never backed up [backing up now; restarted 1 time, last failure: disk full]", rendered.Stdout[3]);
        Assert.StartsWith("  s3: 2 pending: push www/a, sync www, last error ", rendered.Stdout[5]);
        Assert.Equal("  b2: sync state unavailable, restarted 2 times", rendered.Stdout[6]);
    }

    private static StatusReport ClusterStatus()
    {
        var files = new SourceState("files", "tar", "files", new SourceRun("full", "b.tbz", null, At, 1, 5), false, 0, null, null);
        var own = new StatusReport(new DaemonState(true, At, 42, "127.0.0.1:8998", null, null), [files], []);
        return own with
        {
            Cluster = new ClusterView("alpha", "alpha", [new ClusterMember("alpha", "10.0.0.1:4719", "up", true), new ClusterMember("beta", "10.0.0.2:4719", "up", true),
                new ClusterMember("gamma", "10.0.0.3:4719", "up", false)]) { Director = "beta" },
            Hosts = [new HostStatus("beta", own with { Sources = [files with { Name = "db", Last = null }], Destinations = [new DestinationState("s3", 0, [], At, null, null, 0)] }, null),
                new HostStatus("delta", null, "unreachable since 2026-12-03 02:30:00"), new HostStatus("gamma", null, "unreachable")],
        };
    }

    [Fact]
    public void Status_on_a_node_of_a_cluster_shows_each_hosts_sources_and_destinations_and_says_which_host_has_none()
    {
        var rendered = Rendering.Render(new ShowStatus(Json: false), CommandReply.Of(ClusterStatus(), ok: true));

        Assert.Equal(
            [
                "cluster: this node is alpha; 3 members, 2 up and reachable; leader alpha; director on beta",
                "  alpha  10.0.0.1:4719  up",
                "  beta   10.0.0.2:4719  up",
                "  gamma  10.0.0.3:4719  up, unreachable",
                "host alpha (this node):",
                "  sources:",
                $"    files  tar -> files: backed up (full) b.tbz at {SummaryFormat.Time(At)} in 1.0 s, 5 B",
                "  destinations:",
                "    none configured (backups stay local)",
                "host beta:",
                "  sources:",
                "    db  tar -> files: never backed up",
                "  destinations:",
                $"    s3: nothing pending, last sync {SummaryFormat.Time(At)}",
                "host delta: unreachable since 2026-12-03 02:30:00",
                "host gamma: unreachable",
            ],
            rendered.Stdout.Skip(2));
    }

    [Fact]
    public void Prune_lists_the_points_of_each_series_and_sends_a_series_that_failed_to_stderr()
    {
        var rendered = Rendering.Render(new PruneSeries([], DryRun: true, Json: false), CommandReply.Of(Prune(dryRun: true), ok: false));

        Assert.Equal(
            [
                "www: would remove 1 point(s) and keep 2 (dry run: nothing changed)",
                "  2026-11-01T02:30:00  removed",
                "   2026-11-02T02:30:00  kept: needed by 2026-11-03T02:30:00",
                "  2026-11-03T02:30:00.tbz  kept: newest, daily 1",
            ],
            rendered.Stdout);
        Assert.Equal(["btw-backup: db: cannot read the series"], rendered.Stderr);
    }

    [Fact]
    public void Prune_json_has_every_series_with_its_counts_before_its_points()
    {
        var rendered = Rendering.Render(new PruneSeries([], DryRun: false, Json: true), CommandReply.Of(Prune(dryRun: false), ok: false));

        using var json = JsonDocument.Parse(Assert.Single(rendered.Stdout));
        var www = json.RootElement.GetProperty("series")[0];
        Assert.Equal(["dst", "dry_run", "error", "removed", "kept", "points"], www.EnumerateObject().Select(p => p.Name));
        Assert.Equal((1, 2), (www.GetProperty("removed").GetInt32(), www.GetProperty("kept").GetInt32()));
        Assert.Equal("2026-11-01T02:30:00", www.GetProperty("points")[1].GetProperty("full_backup").GetString());
        Assert.Equal("db: cannot read the series", json.RootElement.GetProperty("series")[1].GetProperty("error").GetString());
    }

    [Fact]
    public void Verify_counts_every_problem_and_says_how_to_mend_a_destination()
    {
        var report = new VerifyReport(
            [new SeriesCheck("www", 3, ["www/2026-11-01T02:30:00.tbz: truncated"]), new SeriesCheck("db", 1, [])],
            [new DestinationCheck("s3", 40, 1, ["www/a: missing on the server"])]);

        var rendered = Rendering.Render(new VerifyBackups([], Json: false), CommandReply.Of(report, report.Ok));

        Assert.Equal(ExitCode.Error, rendered.ExitCode);
        Assert.Equal(
            [
                "www: 3 backups read, 1 problem(s)", "  www/2026-11-01T02:30:00.tbz: truncated", "db: 1 backup read, all good",
                "-> s3: 40 file(s) match, 1 pending, 1 problem(s)", "  www/a: missing on the server", "  (btw-backup sync --full uploads what s3 lacks or holds wrong)",
            ],
            rendered.Stdout);
        Assert.Equal(["btw-backup: verify found 2 problem(s)"], rendered.Stderr);
    }

    [Fact]
    public void Sync_state_is_the_originals_listing_grouped_by_destination_when_there_are_several()
    {
        var s3 = new DestinationPending("s3", [""], ["www/a"], ["www/old"]);
        Assert.Equal(["Must sync: .", "Must push: www/a", "Must delete (planned): www/old"], Rendering.Lines(new SyncStateListing([s3])));

        var listing = new SyncStateListing([new DestinationPending("z", [], ["x"], []), s3]);
        var rendered = Rendering.Render(new InspectSyncState(SyncStateAction.List, null), CommandReply.Of(listing, ok: false, ["btw-backup: b2 did not answer in 10 s"]));

        Assert.Equal(["s3:", "  Must sync: .", "  Must push: www/a", "  Must delete (planned): www/old", "z:", "  Must push: x"], rendered.Stdout);
        Assert.Equal(["btw-backup: b2 did not answer in 10 s"], rendered.Stderr);
    }

    [Fact]
    public void A_reply_without_a_report_is_printed_as_it_came()
    {
        var reply = new CommandReply(ExitCode.Error, ["listed"], ["btw-backup: no such series"]);

        Assert.Equal(new RenderedReply(ExitCode.Error, reply.Stdout, reply.Stderr), Rendering.Render(new ListBackups("www"), reply));
    }

    public static TheoryData<string> Kinds => new() { "pass", "status", "verify", "prune", "sync-state", "cluster-pass", "cluster-status" };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_report_crosses_from_the_daemon_to_the_CLI_and_renders_the_same(string kind)
    {
        Report report = kind switch
        {
            "pass" => Pass(),
            "status" => new StatusReport(new DaemonState(true, At, 42, "127.0.0.1:8998", null, null),
                [new SourceState("www", "tar", "www", new SourceRun("full", "b", null, At, 1, 5), false, 0, null, At) { Usage = new SeriesUsage(2, 10) }], []),
            "verify" => new VerifyReport([new SeriesCheck("www", 2, ["bad"])], [new DestinationCheck("s3", 1, 0, [])]),
            "prune" => Prune(dryRun: false),
            "cluster-pass" => new ClusterPassSummary(At, 2, [new HostResult("alpha", Pass(), []), new HostResult("beta", null, ["unreachable since 2026-12-03 02:30:00: not backed up"])]),
            "cluster-status" => ClusterStatus(),
            _ => new SyncStateListing([new DestinationPending("s3", [""], ["a"], ["b"])]),
        };
        CliCommand command = kind switch
        {
            "pass" => new RunPass([], Json: false),
            "status" => new ShowStatus(Json: false),
            "verify" => new VerifyBackups([], Json: false),
            "prune" => new PruneSeries([], DryRun: false, Json: false),
            "cluster-pass" => new RunPass([], Json: false),
            "cluster-status" => new ShowStatus(Json: false),
            _ => new InspectSyncState(SyncStateAction.List, null),
        };
        var reply = CommandReply.Of(report, ok: false, ["an error line"]);

        var crossed = RemoteSerializer.ParseReply(RemoteSerializer.ReplyText(reply))!;

        Assert.Equal(report.GetType(), crossed.Report!.GetType());
        var (sent, received) = (Rendering.Render(command, reply), Rendering.Render(command, crossed));
        Assert.Equal(sent.ExitCode, received.ExitCode);
        Assert.Equal(sent.Stdout, received.Stdout);
        Assert.Equal(sent.Stderr, received.Stderr);
        Assert.Equal(Rendering.Json(report), Rendering.Json(crossed.Report));
    }

    [Fact]
    public void A_line_break_in_an_error_from_outside_is_shown_never_a_line_of_its_own()
    {
        // A file of the backed-up tree named to forge a successful run in the history's listing.
        var forged = "cannot read /home/mallory/x\n2026-12-03 02:30:00  source  www  full  1.0 s  stored 1 KiB";
        var history = new BtwBackup.Monitoring.HistoryReport(null, null,
            [new BtwBackup.Monitoring.RunRecord(BtwBackup.Monitoring.RunRecord.SourceKind, "www", At.AddSeconds(-3), At, SourceRun.Failed, null, null, forged)]);
        var rendered = Rendering.Render(new ShowStatus(false) { History = true }, CommandReply.Of(history, ok: true));

        var line = Assert.Single(rendered.Stdout);
        Assert.DoesNotContain('\n', line);
        Assert.EndsWith(@"cannot read /home/mallory/x\x0a2026-12-03 02:30:00  source  www  full  1.0 s  stored 1 KiB", line, StringComparison.Ordinal);

        var pass = Pass() with { Sources = [new PassSource("db", "pg-dump", "db", new SourceRun(SourceRun.Failed, null, forged, At, 0.4, 0))] };
        Assert.All(Rendering.Render(new RunPass([], false), CommandReply.Of(pass, ok: false)).Stdout, l => Assert.DoesNotContain('\n', l));
    }
}
