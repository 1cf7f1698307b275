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

    [Fact]
    public void A_failure_body_keeps_what_failed_and_as_much_of_the_log_end_as_fits_in_100_kB_from_a_line_start()
    {
        var log = Path.Combine(_dir, "btw-backup.log");
        // 3 MB of log, with multi-byte characters, so that a cut may fall inside one.
        File.WriteAllLines(log, Enumerable.Range(0, 30_000).Select(i => $"line {i:D6} é€ {new string('x', 80)}"));
        var body = PingPlan.FailureBody(["db: pg_dump: no such database"], PingPlan.LogTail(log));

        Assert.StartsWith("db: pg_dump: no such database\n\n--- the last lines of the log ---\nline ", body, StringComparison.Ordinal);
        Assert.EndsWith($"line 029999 é€ {new string('x', 80)}\n", body, StringComparison.Ordinal);
        Assert.InRange(Encoding.UTF8.GetByteCount(body), 90_000, PingPlan.BodyLimit);
        Assert.DoesNotContain('\uFFFD', body);
    }

    [Fact]
    public void A_log_that_cannot_be_read_leaves_the_failure_alone()
    {
        Assert.Equal("", PingPlan.LogTail(Path.Combine(_dir, "none.log")));
        Assert.Equal("a: b\n", PingPlan.FailureBody(["a: b"], ""));
    }
}
