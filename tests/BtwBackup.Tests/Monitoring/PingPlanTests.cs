using System.Text;
using BtwBackup.Monitoring;
using Xunit;

namespace BtwBackup.Tests.Monitoring;

public sealed class PingPlanTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-ping-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("https://hc-ping.com/5f1a", "start", "https://hc-ping.com/5f1a/start")]
    [InlineData("https://hc-ping.com/5f1a/", "fail", "https://hc-ping.com/5f1a/fail")]
    [InlineData("https://hc.example.org/ping/key/slug?create=1", "start", "https://hc.example.org/ping/key/slug/start?create=1")]
    [InlineData("https://hc-ping.com/5f1a", null, "https://hc-ping.com/5f1a")]
    public void Healthchecks_events_are_suffixes_of_the_check_path(string check, string? suffix, string expected) =>
        Assert.Equal(expected, PingPlan.Healthchecks(new Uri(check), suffix).AbsoluteUri);

    private static readonly DateTime T0 = new(2026, 12, 5, 2, 0, 0, DateTimeKind.Utc);

    /// <summary>A line as the log writes it.</summary>
    private static string Line(DateTime at, int pid, string source, string message) =>
        $"{at:yyyy-MM-dd'T'HH:mm:ss.fff'Z'} INFO    [{pid}] {source}: {message}";

    private const string Work = "akka://btw-backup/user/orchestrator";

    [Fact]
    public void A_failure_body_keeps_what_failed_and_as_much_of_the_log_end_as_fits_in_100_kB_from_a_line_start()
    {
        var log = Path.Combine(_dir, "btw-backup.log");
        // 3 MB of log, with multi-byte characters, so that a cut may fall inside one.
        File.WriteAllLines(log, Enumerable.Range(0, 30_000).Select(i => Line(T0.AddMilliseconds(i), 7, Work, $"line {i:D6} é€ {new string('x', 80)}")));
        var body = PingPlan.FailureBody(["db: pg_dump: no such database"], PingPlan.LogTail(log, T0, pid: 7));

        Assert.StartsWith("db: pg_dump: no such database\n\n--- the last lines of the log ---\n20", body, StringComparison.Ordinal);
        Assert.EndsWith($"line 029999 é€ {new string('x', 80)}\n", body, StringComparison.Ordinal);
        Assert.InRange(Encoding.UTF8.GetByteCount(body), 90_000, PingPlan.BodyLimit);
        Assert.DoesNotContain('\uFFFD', body);
    }

    [Fact]
    public void The_log_tail_of_a_ping_holds_the_runs_own_lines_only_never_the_commands_of_users_or_of_other_processes()
    {
        var log = Path.Combine(_dir, "btw-backup.log");
        File.WriteAllLines(log,
        [
            Line(T0.AddMinutes(-5), 7, Work + "/sources/source-db", "yesterday's run"),
            Line(T0.AddSeconds(1), 7, "akka://btw-backup/user/gateway", "gateway: RunRestore from akka.tcp://cli@127.0.0.1:4711 (uid 1001)"),
            Line(T0.AddSeconds(2), 7, "cli", "btw-backup restore /home/alice/secret"),
            Line(T0.AddSeconds(2), 8, Work + "/sources/source-db", "another process, same source"),
            Line(T0.AddSeconds(3), 7, Work + "/sources/source-db", "source db: backup 1 starts"),
            "  a continuation of the db line",
            Line(T0.AddSeconds(3), 7, "akka://btw-backup/user/gateway", "gateway: ShowStatus"),
            "  a continuation of the gateway line",
            Line(T0.AddSeconds(4), 7, Work + "/sources/source-db%20old", "another source whose name starts the same"),
            Line(T0.AddSeconds(4), 7, Work + "/sources/source-db/job", "the source's child"),
            Line(T0.AddSeconds(5), 7, Work + "/sources/source-web", "source web: done"),
            Line(T0.AddSeconds(6), 7, Work, "pass: done"),
        ]);

        Assert.Equal(string.Join("\n",
            Line(T0.AddSeconds(3), 7, Work + "/sources/source-db", "source db: backup 1 starts"),
            "  a continuation of the db line",
            Line(T0.AddSeconds(4), 7, Work + "/sources/source-db/job", "the source's child")) + "\n", PingPlan.LogTail(log, T0, "db", pid: 7));
        var pass = PingPlan.LogTail(log, T0, pid: 7);
        Assert.Contains("source web: done", pass, StringComparison.Ordinal);
        Assert.Contains("pass: done", pass, StringComparison.Ordinal);
        Assert.DoesNotContain("gateway", pass, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", pass, StringComparison.Ordinal);
        Assert.DoesNotContain("yesterday", pass, StringComparison.Ordinal);
        Assert.DoesNotContain("another process", pass, StringComparison.Ordinal);
    }

    [Fact]
    public void A_log_that_cannot_be_read_leaves_the_failure_alone()
    {
        Assert.Equal("", PingPlan.LogTail(Path.Combine(_dir, "none.log"), T0));
        Assert.Equal("a: b\n", PingPlan.FailureBody(["a: b"], ""));
    }
}
