using BtwBackup.Daemon;
using BtwBackup.Logging;
using Xunit;

namespace BtwBackup.Tests.Logging;

public sealed class LogFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-log-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Text_from_outside_cannot_write_a_line_that_passes_for_an_entry()
    {
        var path = Path.Combine(_dir, "btw-backup.log");
        var log = new LogFile(path);
        // A sender's address with a line break and a whole forged entry after it.
        Assert.True(log.Write("WARNING", "gateway", "refused a hello from akka.tcp://x\n2026-12-03T14:40:00.000Z INFO    [1] gateway: RunPass from y\r\x1b[2J"));
        var lines = File.ReadAllLines(path);
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT[\d:.]+Z WARNING \[\d+\] gateway: refused a hello from akka.tcp://x$", lines[0]);
        Assert.Equal(@"    2026-12-03T14:40:00.000Z INFO    [1] gateway: RunPass from y\x0d\x1b[2J", lines[1]);
    }

    [Fact]
    public void The_budget_of_a_remoting_system_holds_back_past_its_lines_a_minute_and_counts_them()
    {
        var now = DateTimeOffset.UnixEpoch;
        var budget = new LogBudget(3, () => now);
        Assert.Equal([true, true, true, false, false], Enumerable.Range(0, 5).Select(_ => budget.TryTake(out long _)));
        now += TimeSpan.FromMinutes(1);
        Assert.True(budget.TryTake(out var heldBack));
        Assert.Equal(2, heldBack);
        Assert.True(budget.TryTake(out heldBack));
        Assert.Equal(0, heldBack);
    }

    [Fact]
    public void A_refused_sender_is_named_once_and_a_long_one_is_kept_short()
    {
        var refusals = new RefusalLog();
        var huge = "akka.tcp://" + new string('x', 1_000_000) + "@127.0.0.1:1";
        Assert.True(refusals.FirstFrom(huge));
        Assert.False(refusals.FirstFrom(huge));
        Assert.Equal(RefusalLog.MaxShown + "... (1000023 characters)".Length, RefusalLog.Shown(huge).Length);
        // Who sent it is not known: never held back by the once-per-sender rule.
        Assert.True(refusals.FirstFrom(RefusalLog.UnknownSender));
        Assert.True(refusals.FirstFrom(RefusalLog.UnknownSender));
    }
}
