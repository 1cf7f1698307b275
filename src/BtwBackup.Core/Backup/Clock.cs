namespace BtwBackup.Backup;

/// <summary>Time, behind an interface so that tests can fix it.</summary>
public interface IClock
{
    DateTime UtcNow { get; }

    Task DelayAsync(TimeSpan delay, CancellationToken ct);
}

public sealed class SystemClock : IClock
{
    public DateTime UtcNow => DateTime.UtcNow;

    public Task DelayAsync(TimeSpan delay, CancellationToken ct) => Task.Delay(delay, ct);
}

public static class ClockExtensions
{
    /// <summary>
    /// The current second, once it is later than every time in <paramref name="taken"/>: two
    /// backups never share a second (rdiff-backup refuses "The last backup is not in the past").
    /// </summary>
    public static async Task<DateTime> NextFreeSecondAsync(this IClock clock, IEnumerable<DateTime> taken, CancellationToken ct)
    {
        var latest = taken.DefaultIfEmpty(DateTime.MinValue).Max();
        while (true)
        {
            var now = SeriesNames.TruncateToSecond(clock.UtcNow);
            if (now > latest)
                return now;
            await clock.DelayAsync(TimeSpan.FromMilliseconds(100), ct);
        }
    }
}
