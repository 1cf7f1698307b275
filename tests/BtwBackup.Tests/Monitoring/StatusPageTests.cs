using System.Collections.Immutable;
using BtwBackup.Monitoring;
using BtwBackup.Protocol;
using BtwBackup.Web;
using Xunit;

namespace BtwBackup.Tests.Monitoring;

public sealed class StatusPageTests
{
    private static readonly DateTime Now = new(2026, 12, 4, 12, 0, 0, DateTimeKind.Utc);

    private static StatusReport Status(params SourceState[] sources) =>
        new(new DaemonState(true, Now.AddDays(-1), 42, "127.0.0.1:4718", "30 2 * * *", Now.AddHours(14)), [.. sources],
            [new DestinationState("offsite", 3, ["push home/x"], Now.AddHours(-10), null, null, 0)]);

    private static SourceState Source(string name, SourceRun? last) => new(name, "tar", name, last, false, 0, null, null);

    private static HistoryReport History(params RunRecord[] runs) => new(null, null, [.. runs]);

    [Fact]
    public void Names_and_errors_from_outside_are_encoded_never_markup()
    {
        var hostile = "<script>alert(1)</script>";
        var page = StatusPage.Render("<b>host</b>", Status(Source(hostile, new SourceRun(SourceRun.Failed, null, "tar: <img src=x onerror=alert(1)>", Now, 1, 0))),
            History(new RunRecord(RunRecord.SourceKind, hostile, Now.AddSeconds(-1), Now, SourceRun.Failed, null, null, "\"><svg onload=alert(1)>")),
            Now, _ => null);

        Assert.DoesNotContain("<script", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<svg onload", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<b>host", page, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", page, StringComparison.Ordinal);
    }

    [Fact]
    public void A_source_whose_last_success_is_before_the_due_pass_is_late_a_failed_one_failed_a_recent_one_ok()
    {
        var due = Now.AddHours(-9.5);
        var page = StatusPage.Render("web1", Status(
                Source("fresh", new SourceRun("increment", "b", null, Now.AddHours(-9), 60, 10)),
                Source("stale", new SourceRun("increment", "b", null, Now.AddDays(-3), 60, 10)),
                Source("broken", new SourceRun(SourceRun.Failed, null, "disk full", Now.AddHours(-9), 1, 0)),
                Source("new", null)),
            History(), Now, _ => due);

        Assert.Contains("<tr class=\"ok\" data-source=\"fresh\">", page, StringComparison.Ordinal);
        Assert.Contains("<tr class=\"late\" data-source=\"stale\">", page, StringComparison.Ordinal);
        Assert.Contains("<tr class=\"failed\" data-source=\"broken\">", page, StringComparison.Ordinal);
        Assert.Contains("<tr class=\"late\" data-source=\"new\">", page, StringComparison.Ordinal);
        // Without a schedule nothing is late: there is nothing to be late for.
        Assert.DoesNotContain("class=\"late\" data-source", StatusPage.Render("web1", Status(Source("stale", new SourceRun("full", "b", null, Now.AddDays(-30), 1, 1))), History(), Now, _ => null), StringComparison.Ordinal);
    }

    [Fact]
    public void The_due_time_is_the_schedules_latest_at_or_before_a_moment()
    {
        var nightly = Cronos.CronExpression.Parse("30 2 * * *");
        var at = new DateTime(2026, 12, 4, 10, 0, 0, DateTimeKind.Utc);
        var due = StatusWeb.LatestDue(nightly, at)!.Value;
        Assert.True(due <= at && at - due < TimeSpan.FromDays(1));
        Assert.Equal(30, due.ToLocalTime().Minute);
        Assert.Null(StatusWeb.LatestDue(null, at));
    }

    [Fact]
    public void The_chart_draws_every_run_of_two_years_as_one_line_each_for_size_and_duration()
    {
        var runs = Enumerable.Range(0, 730).Select(i => new RunRecord(RunRecord.SourceKind, "db", Now.AddDays(i - 730), Now.AddDays(i - 730).AddMinutes(5),
            i % 100 == 7 ? SourceRun.Failed : "increment", i % 100 == 7 ? null : 1000 + i, null, i % 100 == 7 ? "pg_dump: gone" : null)).ToList();
        var svg = StatusPage.Chart("db", runs);

        Assert.Equal(2, CountOf(svg, "<polyline"));
        Assert.Equal(8, CountOf(svg, "<line class=\"fail\""));
        Assert.Equal(0, CountOf(svg, "<circle"));
        Assert.Contains("db: 730 runs", svg, StringComparison.Ordinal);
    }

    [Fact]
    public void A_clustered_daemon_lists_the_members_with_the_director()
    {
        var status = Status() with
        {
            Cluster = new ClusterView("web1", "web1", [new ClusterMember("web1", "10.0.0.1:4719", "up", true), new ClusterMember("db1", "10.0.0.2:4719", "up", false)])
            {
                Director = "web1",
            },
            Hosts = [new HostStatus("db1", null, "unreachable"), new HostStatus("mail", Status(Source("spool", new SourceRun(SourceRun.Failed, null, "tar: gone", Now, 1, 0))), null)],
        };
        var page = StatusPage.Render("web1", status, History(), Now, _ => null);
        Assert.Contains("<h2>Cluster</h2>", page, StringComparison.Ordinal);
        Assert.Contains("<tr class=\"ok\"><td>web1</td><td>10.0.0.1:4719</td><td>up</td><td>yes</td><td>director (this node)</td></tr>", page, StringComparison.Ordinal);
        Assert.Contains("<tr class=\"failed\"><td>db1</td><td>10.0.0.2:4719</td><td>up</td><td>no</td><td></td></tr>", page, StringComparison.Ordinal);
        Assert.Contains("<tr class=\"failed\"><td>db1</td><td colspan=\"3\">unreachable</td></tr>", page, StringComparison.Ordinal);
        Assert.Contains("<tr class=\"failed\"><td>mail</td><td>spool</td><td class=\"result\">failed: tar: gone</td>", page, StringComparison.Ordinal);
    }

    private static int CountOf(string text, string part) => (text.Length - text.Replace(part, "", StringComparison.Ordinal).Length) / part.Length;
}
