using System.Collections.Immutable;
using BtwBackup.Config;
using BtwBackup.Backup;

namespace BtwBackup.Retention;

/// <summary>
/// A point in time of a series: its UTC time, its name (as <c>list</c> prints it), and the chain
/// it belongs to: the full-backup folder of an rdiff or database series, whose increments are
/// reverse diffs from its newest state; null for a tar archive, which stands alone.
/// </summary>
public sealed record SeriesPoint(DateTime Time, string Name, string? Chain);

/// <summary>What the policy says of one point: kept (with every reason), or removed.</summary>
public sealed record PointVerdict(SeriesPoint Point, bool Kept, ImmutableList<string> Reasons);

/// <summary>What removing the dropped points takes, per chain or archive.</summary>
public abstract record RemovalStep(string Name);

/// <summary>A tar archive, or a full-backup folder none of whose points is kept: removed whole.</summary>
public sealed record RemoveWhole(string Name) : RemovalStep(Name);

/// <summary>A full-backup folder that shrinks from its oldest end: <c>rdiff-backup remove increments --older-than</c> its oldest kept point.</summary>
public sealed record RemoveIncrementsBefore(string Name, DateTime OldestKept) : RemovalStep(Name);

/// <summary>Every point's verdict (oldest first) and the steps that remove the dropped ones.</summary>
public sealed record RetentionPlan(ImmutableList<PointVerdict> Points, ImmutableList<RemovalStep> Steps)
{
    public IEnumerable<PointVerdict> Removed => Points.Where(p => !p.Kept);

    /// <summary>As <c>list</c> prints the points (increments indented by one space), each with <c>kept: REASONS</c> or <c>removed</c>.</summary>
    public IEnumerable<string> Lines() => Points.Select(v =>
        $"{(v.Point.Chain is { } chain && chain != v.Point.Name ? " " : "")}{v.Point.Name}  " + (v.Kept ? "kept: " + string.Join(", ", v.Reasons) : "removed"));
}

/// <summary>
/// The retention decision as a pure function of a series' points and a policy (see
/// <see cref="RetentionPolicy"/>), then the chains: in a full-backup folder a point needs every
/// newer point of the same folder (its increments are reverse diffs from the newest state), so
/// such a point is kept ("needed by" the nearest older kept point), the folder only ever shrinks
/// from its oldest end, and it goes whole only when none of its points is kept.
/// </summary>
public static class RetentionPlanner
{
    public static RetentionPlan Plan(IReadOnlyList<SeriesPoint> points, RetentionPolicy policy)
    {
        var newestFirst = points.OrderByDescending(p => p.Time).ThenByDescending(p => p.Name, StringComparer.Ordinal).ToList();
        var reasons = newestFirst.ToDictionary(p => p, _ => new List<string>());
        if (newestFirst.Count == 0)
            return new RetentionPlan([], []);

        var newest = newestFirst[0];
        reasons[newest].Add("newest");
        if (policy.KeepWithin is { } within)
        {
            foreach (var p in newestFirst.Where(p => newest.Time - p.Time <= within))
                reasons[p].Add($"within {Durations.Format(within)} of the newest");
        }

        foreach (var rule in policy.PeriodRules().Where(r => r.Count > 0))
            ApplyRule(rule, newestFirst, policy.Zone, reasons);

        ApplyChains(newestFirst, reasons);

        var verdicts = newestFirst.AsEnumerable().Reverse()
            .Select(p => new PointVerdict(p, reasons[p].Count > 0, [.. reasons[p]]))
            .ToImmutableList();
        return new RetentionPlan(verdicts, Steps(verdicts));
    }

    private static void ApplyRule(RetentionPolicy.PeriodRule rule, List<SeriesPoint> newestFirst, TimeZoneInfo zone, Dictionary<SeriesPoint, List<string>> reasons)
    {
        var kept = 0;
        string? lastPeriod = null;
        for (var i = 0; i < newestFirst.Count && kept < rule.Count; i++)
        {
            var p = newestFirst[i];
            var period = rule.Period?.Invoke(TimeZoneInfo.ConvertTime(new DateTimeOffset(p.Time, TimeSpan.Zero), zone)) ?? i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (period == lastPeriod)
                continue;
            lastPeriod = period;
            kept++;
            reasons[p].Add($"{rule.Name} {kept} of {rule.Count}");
        }

        // Fewer periods than the rule asks for: the series is younger than the rule, so its
        // oldest point stands for the periods it does not have yet.
        if (kept < rule.Count)
            reasons[newestFirst[^1]].Add($"oldest ({rule.Name} found {kept} of {rule.Count})");
    }

    private static void ApplyChains(List<SeriesPoint> newestFirst, Dictionary<SeriesPoint, List<string>> reasons)
    {
        foreach (var chain in newestFirst.Where(p => p.Chain is not null).GroupBy(p => p.Chain))
        {
            // Oldest first: each point not kept but newer than a kept one is needed by the nearest older kept point.
            SeriesPoint? olderKept = null;
            foreach (var p in chain.OrderBy(p => p.Time))
            {
                if (reasons[p].Any(r => !r.StartsWith("needed by", StringComparison.Ordinal)))
                    olderKept = p;
                else if (olderKept is not null)
                    reasons[p].Add($"needed by {olderKept.Name}");
            }
        }
    }

    private static ImmutableList<RemovalStep> Steps(ImmutableList<PointVerdict> verdicts)
    {
        var steps = ImmutableList.CreateBuilder<RemovalStep>();
        foreach (var v in verdicts.Where(v => v.Point.Chain is null && !v.Kept))
            steps.Add(new RemoveWhole(v.Point.Name));
        foreach (var chain in verdicts.Where(v => v.Point.Chain is not null).GroupBy(v => v.Point.Chain!))
        {
            var oldestKept = chain.FirstOrDefault(v => v.Kept);
            if (oldestKept is null)
                steps.Add(new RemoveWhole(chain.Key));
            else if (chain.Any(v => !v.Kept))
                steps.Add(new RemoveIncrementsBefore(chain.Key, oldestKept.Point.Time));
        }

        return steps.ToImmutable();
    }

    /// <summary>The points of a series folder as <c>list</c> names them: tar archives alone, rdiff folders with their increment times (oldest first).</summary>
    public static IReadOnlyList<SeriesPoint> PointsOf(IEnumerable<(string Name, IReadOnlyList<DateTime> IncrementTimes)> entries)
    {
        var points = new List<SeriesPoint>();
        foreach (var (name, times) in entries)
        {
            if (name.EndsWith(SeriesNames.TarSuffix, StringComparison.Ordinal))
            {
                points.Add(new SeriesPoint(SeriesNames.TimeOf(name), name, null));
                continue;
            }

            points.Add(new SeriesPoint(SeriesNames.TimeOf(name), name, name));
            points.AddRange(times.Where(t => SeriesNames.Of(t) != name[..19]).Select(t => new SeriesPoint(t, SeriesNames.Of(t), name)));
        }

        return points;
    }
}
