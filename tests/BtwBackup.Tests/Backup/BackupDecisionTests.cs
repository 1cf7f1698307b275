using BtwBackup.Config;
using BtwBackup.Backup;
using Xunit;

namespace BtwBackup.Tests.Backup;

public class BackupDecisionTests
{
    private static readonly DateTime Full = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static TheoryData<string, int, int, int, BackupKind> Cases => new()
    {
        // description, seconds since the full backup, increments so far, max count, expected (span 24h)
        { "no full backup yet", -1, 0, 10, BackupKind.Full },
        { "fresh full backup", 60, 0, 10, BackupKind.Increment },
        { "below the count", 60, 9, 10, BackupKind.Increment },
        { "count reached", 60, 10, 10, BackupKind.Full },
        { "count 1, one increment made", 60, 1, 1, BackupKind.Full },
        { "count 1, none made", 60, 0, 1, BackupKind.Increment },
        { "count 0: always full", 60, 0, 0, BackupKind.Full },
        { "just inside the span", 86399, 0, 10, BackupKind.Increment },
        { "exactly the span", 86400, 0, 10, BackupKind.Full },
        { "past the span", 90000, 0, 10, BackupKind.Full },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decides_like_the_original(string description, int secondsSinceFull, int increments, int maxCount, BackupKind expected)
    {
        var lastFull = secondsSinceFull < 0 ? (DateTime?)null : Full;
        var now = Full.AddSeconds(Math.Max(0, secondsSinceFull));
        var kind = BackupDecision.Decide(now, lastFull, increments, new SeriesPolicy(maxCount, TimeSpan.FromHours(24)));
        Assert.True(expected == kind, description);
    }

    [Fact]
    public void A_zero_span_always_gives_a_full_backup() =>
        Assert.Equal(BackupKind.Full, BackupDecision.Decide(Full.AddSeconds(1), Full, 0, new SeriesPolicy(10, TimeSpan.Zero)));
}

public class SeriesNamesTests
{
    [Fact]
    public void Formats_and_parses_utc_seconds()
    {
        var t = new DateTime(2016, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        Assert.Equal("2016-01-02T03:04:05", SeriesNames.Of(t));
        Assert.Equal(t, SeriesNames.TimeOf("2016-01-02T03:04:05.tbz"));
        Assert.Equal(DateTimeKind.Utc, SeriesNames.TimeOf("2016-01-02T03:04:05").Kind);
    }

    [Fact]
    public void Lists_only_backup_names_in_order()
    {
        var dir = Directory.CreateTempSubdirectory("btw-series-").FullName;
        try
        {
            foreach (var n in new[] { "2016-01-02T00:00:00", "2015-12-31T23:59:59", "log.txt", ".2016-01-03T00:00:00.partial" })
                Directory.CreateDirectory(Path.Combine(dir, n));
            File.WriteAllText(Path.Combine(dir, "2016-01-01T00:00:00.tbz"), "");
            Assert.Equal(["2015-12-31T23:59:59", "2016-01-01T00:00:00.tbz", "2016-01-02T00:00:00"], SeriesNames.List(dir));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task Next_free_second_waits_past_every_taken_time()
    {
        var clock = new SteppingClock(new DateTime(2026, 1, 1, 0, 0, 0, 400, DateTimeKind.Utc));
        var taken = new[] { new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc), new DateTime(2026, 1, 1, 0, 0, 1, DateTimeKind.Utc) };
        var free = await clock.NextFreeSecondAsync(taken, CancellationToken.None);
        Assert.Equal(new DateTime(2026, 1, 1, 0, 0, 2, DateTimeKind.Utc), free);
        Assert.True(clock.Delays > 0);
    }

    private sealed class SteppingClock(DateTime start) : IClock
    {
        public int Delays { get; private set; }

        public DateTime UtcNow { get; private set; } = start;

        public Task DelayAsync(TimeSpan delay, CancellationToken ct)
        {
            Delays++;
            UtcNow += delay;
            return Task.CompletedTask;
        }
    }
}

public class RdiffListingTests
{
    [Fact]
    public void Parses_parsable_output_oldest_first()
    {
        var times = BtwBackup.Tools.RdiffBackup.ParseParsableList("1451649601 directory\n1451649600 directory\n\n");
        Assert.Equal([new DateTime(2016, 1, 1, 12, 0, 0, DateTimeKind.Utc), new DateTime(2016, 1, 1, 12, 0, 1, DateTimeKind.Utc)], times);
    }
}
