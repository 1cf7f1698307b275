using System.Globalization;
using BtwBackup.Config;

namespace BtwBackup.Retention;

/// <summary>
/// Which points of a series to keep, as restic's <c>forget --keep-*</c> says it: for each rule,
/// the newest point in each of the last N calendar periods that have a point (weeks are ISO
/// weeks, Monday to Sunday), the rules OR-ed; a rule that finds fewer periods than N keeps the
/// oldest point too; <see cref="KeepWithin"/> keeps every point within that span of the newest.
/// Periods are counted in <see cref="Zone"/> (backup names are UTC), so a daylight-saving change
/// never moves a backup into another day. The newest point is always kept.
/// </summary>
public sealed record RetentionPolicy(
    int KeepLast = 0,
    int KeepHourly = 0,
    int KeepDaily = 0,
    int KeepWeekly = 0,
    int KeepMonthly = 0,
    int KeepYearly = 0,
    TimeSpan? KeepWithin = null,
    TimeZoneInfo? TimeZone = null)
{
    public TimeZoneInfo Zone => TimeZone ?? TimeZoneInfo.Local;

    /// <summary>The rules that count periods, in the order their reasons are given.</summary>
    internal IEnumerable<PeriodRule> PeriodRules()
    {
        yield return new PeriodRule("last", KeepLast, null);
        yield return new PeriodRule("hourly", KeepHourly, t => $"{t:yyyy-MM-dd HH}{t.Offset}");
        yield return new PeriodRule("daily", KeepDaily, t => t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        yield return new PeriodRule("weekly", KeepWeekly, t => $"{ISOWeek.GetYear(t.DateTime)}-W{ISOWeek.GetWeekOfYear(t.DateTime):00}");
        yield return new PeriodRule("monthly", KeepMonthly, t => t.ToString("yyyy-MM", CultureInfo.InvariantCulture));
        yield return new PeriodRule("yearly", KeepYearly, t => t.ToString("yyyy", CultureInfo.InvariantCulture));
    }

    /// <summary>Refuses a policy that keeps nothing by rule (an empty policy would delete all but the newest point), or a negative count.</summary>
    public RetentionPolicy Validated(string where)
    {
        foreach (var rule in PeriodRules())
        {
            if (rule.Count < 0)
                throw new ConfigException($"{where}: retention.keep-{rule.Name} must be 0 or more, not {rule.Count}");
        }

        if (KeepWithin is { } within && within <= TimeSpan.Zero)
            throw new ConfigException($"{where}: retention.keep-within must be a positive duration, not {Durations.Format(within)}");
        if (PeriodRules().All(r => r.Count == 0) && KeepWithin is null)
            throw new ConfigException($"{where}: a retention policy needs at least one keep-* rule (keep-last, keep-hourly, keep-daily, keep-weekly, keep-monthly, "
                + "keep-yearly or keep-within); without a retention block everything is kept");
        return this;
    }

    /// <summary>A counting rule: its name, how many periods, and the period of a local time (null: every point is its own).</summary>
    internal sealed record PeriodRule(string Name, int Count, Func<DateTimeOffset, string>? Period);
}
