using System.Globalization;
using BtwBackup.Config;
using BtwBackup.Retention;
using Xunit;

namespace BtwBackup.Tests.Retention;

public sealed class RetentionPlannerTests
{
    private static readonly TimeZoneInfo Utc = TimeZoneInfo.Utc;
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
    private static readonly TimeZoneInfo NewYork = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");

    private static DateTime T(string utc) => DateTime.ParseExact(utc, "yyyy-MM-dd'T'HH:mm", CultureInfo.InvariantCulture,
        DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    private static SeriesPoint[] Tars(params string[] utc) => utc.Select(t => new SeriesPoint(T(t), t, null)).ToArray();

    /// <summary>The names of the kept points, oldest first.</summary>
    private static string[] Kept(RetentionPolicy policy, params SeriesPoint[] points) =>
        RetentionPlanner.Plan(points, policy).Points.Where(p => p.Kept).Select(p => p.Point.Name).ToArray();

    private static SeriesPoint[] Daily(string firstDay, int days, string at = "02:30") =>
        Enumerable.Range(0, days).Select(i => T(firstDay + "T" + at).AddDays(i)).Select(t => new SeriesPoint(t, t.ToString("yyyy-MM-dd'T'HH:mm", CultureInfo.InvariantCulture), null)).ToArray();

    [Fact]
    public void Keep_last_keeps_the_newest_n_points()
    {
        Assert.Equal(["2026-11-29T02:30", "2026-11-30T02:30"], Kept(new RetentionPolicy(KeepLast: 2, TimeZone: Utc), Daily("2026-11-25", 6)));
    }

    [Fact]
    public void Keep_daily_keeps_the_newest_point_of_each_of_the_last_n_days_that_have_one()
    {
        // Two points a day, none on the 27th: the newest point of each of the 30th, 29th and 28th.
        var points = Tars("2026-11-26T01:00", "2026-11-26T13:00", "2026-11-28T01:00", "2026-11-28T13:00",
            "2026-11-29T01:00", "2026-11-29T13:00", "2026-11-30T01:00", "2026-11-30T13:00");
        Assert.Equal(["2026-11-28T13:00", "2026-11-29T13:00", "2026-11-30T13:00"], Kept(new RetentionPolicy(KeepDaily: 3, TimeZone: Utc), points));
        // A missing day is not a period: four daily periods reach back to the 26th.
        Assert.Equal(["2026-11-26T13:00", "2026-11-28T13:00", "2026-11-29T13:00", "2026-11-30T13:00"], Kept(new RetentionPolicy(KeepDaily: 4, TimeZone: Utc), points));
    }

    [Fact]
    public void Rules_are_ored_and_each_point_says_every_reason()
    {
        var points = Daily("2026-10-01", 61);
        var plan = RetentionPlanner.Plan(points, new RetentionPolicy(KeepDaily: 3, KeepWeekly: 2, KeepMonthly: 2, TimeZone: Utc));
        var kept = plan.Points.Where(p => p.Kept).ToDictionary(p => p.Point.Name, p => string.Join(", ", p.Reasons));
        Assert.Equal(new Dictionary<string, string>
        {
            // 2026-11-30 is a Monday: the week before ends on Sunday the 29th.
            ["2026-10-31T02:30"] = "monthly 2 of 2",
            ["2026-11-28T02:30"] = "daily 3 of 3",
            ["2026-11-29T02:30"] = "daily 2 of 3, weekly 2 of 2",
            ["2026-11-30T02:30"] = "newest, daily 1 of 3, weekly 1 of 2, monthly 1 of 2",
        }, kept);
        Assert.Equal(57, plan.Removed.Count());
        Assert.Equal(57, plan.Steps.Count);
        Assert.All(plan.Steps, s => Assert.IsType<RemoveWhole>(s));
    }

    [Fact]
    public void A_rule_with_fewer_periods_than_it_asks_keeps_the_oldest_point_too()
    {
        var points = Daily("2026-11-20", 11);
        var plan = RetentionPlanner.Plan(points, new RetentionPolicy(KeepLast: 2, KeepMonthly: 6, TimeZone: Utc));
        Assert.Equal(["2026-11-20T02:30", "2026-11-29T02:30", "2026-11-30T02:30"], plan.Points.Where(p => p.Kept).Select(p => p.Point.Name));
        Assert.Equal(["oldest (monthly found 1 of 6)"], plan.Points[0].Reasons);
    }

    [Fact]
    public void Weeks_are_iso_weeks_across_the_year_boundary()
    {
        // 2026-12-28 is the Monday of ISO week 2026-W53; 2027-01-04 the Monday of 2027-W01.
        var points = Tars("2026-12-27T12:00", "2026-12-28T12:00", "2026-12-31T12:00", "2027-01-01T12:00", "2027-01-03T12:00", "2027-01-04T12:00");
        Assert.Equal(["2026-12-27T12:00", "2027-01-03T12:00", "2027-01-04T12:00"], Kept(new RetentionPolicy(KeepWeekly: 3, TimeZone: Utc), points));
        // Yearly goes by the calendar year, not the ISO one.
        Assert.Equal(["2026-12-31T12:00", "2027-01-04T12:00"], Kept(new RetentionPolicy(KeepYearly: 2, TimeZone: Utc), points));
    }

    [Fact]
    public void Days_are_counted_in_the_configured_zone_across_daylight_saving_changes()
    {
        // Europe/Berlin springs forward on 2026-03-29 (UTC+1 to +2) and falls back on 2026-10-25.
        // 22:30 UTC on the 28th of March is 23:30 there, still the 28th; 22:30 UTC on the 29th is 00:30 on the 30th.
        var spring = Tars("2026-03-28T22:30", "2026-03-29T21:30", "2026-03-29T22:30");
        Assert.Equal(["2026-03-28T22:30", "2026-03-29T21:30", "2026-03-29T22:30"], Kept(new RetentionPolicy(KeepDaily: 3, TimeZone: Berlin), spring));
        // In UTC the last two are one day.
        Assert.Equal(["2026-03-28T22:30", "2026-03-29T22:30"], Kept(new RetentionPolicy(KeepDaily: 3, TimeZone: Utc), spring));
        // 22:30 UTC on 2026-10-25 is 23:30 in Berlin (back to +1): the same day as 00:30 UTC.
        var autumn = Tars("2026-10-24T21:30", "2026-10-25T00:30", "2026-10-25T22:30");
        Assert.Equal(["2026-10-24T21:30", "2026-10-25T22:30"], Kept(new RetentionPolicy(KeepDaily: 5, TimeZone: Berlin), autumn));
        // The repeated hour 02:00-03:00 of 2026-10-25 in Berlin is two hours, not one.
        var repeated = Tars("2026-10-25T00:15", "2026-10-25T01:15");
        Assert.Equal(["2026-10-25T00:15", "2026-10-25T01:15"], Kept(new RetentionPolicy(KeepHourly: 2, TimeZone: Berlin), repeated));
        // America/New_York falls back on 2026-11-01 at 06:00 UTC: 03:30 UTC (23:30 EDT) is still the 31st, 05:30 UTC (01:30 EDT) the 1st.
        var newYork = Tars("2026-11-01T03:30", "2026-11-01T05:30", "2026-11-01T06:30");
        Assert.Equal(["2026-11-01T03:30", "2026-11-01T06:30"], Kept(new RetentionPolicy(KeepDaily: 5, TimeZone: NewYork), newYork));
    }

    [Fact]
    public void Keep_within_counts_back_from_the_newest_point()
    {
        var points = Daily("2026-11-01", 30);
        Assert.Equal(["2026-11-27T02:30", "2026-11-28T02:30", "2026-11-29T02:30", "2026-11-30T02:30"],
            Kept(new RetentionPolicy(KeepWithin: TimeSpan.FromDays(3), TimeZone: Utc), points));
    }

    [Fact]
    public void The_newest_point_is_kept_whatever_the_rules()
    {
        var points = Tars("2026-11-01T00:00", "2026-11-02T00:00");
        var plan = RetentionPlanner.Plan(points, new RetentionPolicy(KeepWithin: TimeSpan.FromSeconds(1), TimeZone: Utc));
        Assert.Equal(["newest", "within 1s of the newest"], plan.Points[1].Reasons);
        Assert.False(plan.Points[0].Kept);
        Assert.Empty(RetentionPlanner.Plan([], new RetentionPolicy(KeepLast: 1)).Points);
    }

    [Fact]
    public void A_policy_without_a_rule_or_with_a_negative_count_is_refused()
    {
        Assert.Equal("btw-backup.conf: a retention policy needs at least one keep-* rule (keep-last, keep-hourly, keep-daily, keep-weekly, keep-monthly, "
            + "keep-yearly or keep-within); without a retention block everything is kept",
            Assert.Throws<ConfigException>(() => new RetentionPolicy().Validated("btw-backup.conf")).Message);
        Assert.Equal("x: retention.keep-daily must be 0 or more, not -1",
            Assert.Throws<ConfigException>(() => new RetentionPolicy(KeepDaily: -1, KeepLast: 1).Validated("x")).Message);
        Assert.Throws<ConfigException>(() => new RetentionPolicy(KeepWithin: TimeSpan.Zero).Validated("x"));
        Assert.Equal(7, new RetentionPolicy(KeepDaily: 7).Validated("x").KeepDaily);
    }

    [Fact]
    public void A_full_backup_folder_shrinks_only_from_its_oldest_end_and_goes_whole_only_when_nothing_in_it_is_kept()
    {
        // Two full-backup folders of an rdiff series, each with daily increments.
        var points = RetentionPlanner.PointsOf([
            ("2026-11-01T02:30:00", Enumerable.Range(0, 10).Select(i => T("2026-11-01T02:30").AddDays(i)).ToList()),
            ("2026-11-11T02:30:00", Enumerable.Range(0, 10).Select(i => T("2026-11-11T02:30").AddDays(i)).ToList()),
        ]);
        Assert.Equal(20, points.Count);

        // Daily 3: the last three points of the newer folder; the older folder goes whole.
        var plan = RetentionPlanner.Plan(points, new RetentionPolicy(KeepDaily: 3, TimeZone: Utc));
        Assert.Equal([new RemoveWhole("2026-11-01T02:30:00"), new RemoveIncrementsBefore("2026-11-11T02:30:00", T("2026-11-18T02:30"))], plan.Steps);

        // Monthly 2 finds one month only: the oldest point (the first full backup) stands for the
        // missing one, and every later point of its folder is needed by it.
        var monthly = RetentionPlanner.Plan(points, new RetentionPolicy(KeepMonthly: 2, TimeZone: Utc));
        var first = monthly.Points.Where(p => p.Point.Chain == "2026-11-01T02:30:00").ToList();
        Assert.All(first, p => Assert.True(p.Kept));
        Assert.Equal(["oldest (monthly found 1 of 2)"], first[0].Reasons);
        Assert.Equal(["needed by 2026-11-01T02:30:00"], first[5].Reasons);
        // The newer folder: only its newest point is kept by rule, so its older points go from its oldest end.
        Assert.Equal([new RemoveIncrementsBefore("2026-11-11T02:30:00", T("2026-11-20T02:30"))], monthly.Steps);

        // A point kept in the middle of a folder keeps every newer one of that folder.
        var middle = RetentionPlanner.Plan(points, new RetentionPolicy(KeepWithin: TimeSpan.FromDays(14), TimeZone: Utc));
        Assert.Equal([new RemoveIncrementsBefore("2026-11-01T02:30:00", T("2026-11-06T02:30"))], middle.Steps);
    }
}
