using System.Globalization;
using BtwBackup.Config;
using BtwBackup.Backup;
using BtwBackup.Tools;

namespace BtwBackup.Restore;

/// <summary>
/// One point in time a series can be restored to, named as <c>list</c> names it: a tar archive,
/// an rdiff full backup (its folder), or one of its increments (its time). <see cref="RdiffTime"/>
/// is the time rdiff-backup knows it by; null for a tar archive.
/// </summary>
public sealed record RestorePoint(string Name, DateTime Time, string Entry, DateTime? RdiffTime)
{
    public bool IsTar => Entry.EndsWith(SeriesNames.TarSuffix, StringComparison.Ordinal);

    public string Describe() => IsTar ? Name : Name == Entry ? $"{Name} (full backup)" : $"{Name} (increment on {Entry})";
}

/// <summary>Lists a series' points in time and picks the one a <c>--at</c> asks for.</summary>
public static class RestorePoints
{
    public const string Latest = "now";

    public static async Task<IReadOnlyList<RestorePoint>> ListAsync(string seriesDir, RdiffBackup rdiff, CancellationToken ct)
    {
        var points = new List<RestorePoint>();
        foreach (var entry in SeriesNames.List(seriesDir))
        {
            var path = Path.Combine(seriesDir, entry);
            if (entry.EndsWith(SeriesNames.TarSuffix, StringComparison.Ordinal) || !Directory.Exists(path))
            {
                points.Add(new RestorePoint(entry, SeriesNames.TimeOf(entry), entry, null));
                continue;
            }

            var times = await rdiff.ListBackupTimesAsync(path, ct);
            for (var i = 0; i < times.Count; i++)
                points.Add(new RestorePoint(i == 0 ? entry : SeriesNames.Of(times[i]), i == 0 ? SeriesNames.TimeOf(entry) : times[i], entry, times[i]));
        }

        return [.. points.OrderBy(p => p.Time)];
    }

    /// <summary>
    /// The point <paramref name="at"/> asks for. The latest of an rdiff series is read from the
    /// repository's own marker (<c>current_mirror.TIME.data</c>) rather than by listing every
    /// increment with rdiff-backup: the usual restore starts half a second sooner.
    /// </summary>
    public static async Task<RestorePoint> FindAsync(string seriesDir, string? at, string dst, RdiffBackup rdiff, CancellationToken ct)
    {
        if ((at is null || at == Latest) && SeriesNames.List(seriesDir) is [.., var last] && Directory.Exists(Path.Combine(seriesDir, last))
            && Current(Path.Combine(seriesDir, last)) is { } current)
        {
            var data = Path.Combine(seriesDir, last, "rdiff-backup-data");
            var hasIncrements = Directory.EnumerateFiles(data, "mirror_metadata.*.diff*").Any();
            return new RestorePoint(hasIncrements ? SeriesNames.Of(current) : last, current, last, current);
        }

        return Choose(await ListAsync(seriesDir, rdiff, ct), at, dst);
    }

    /// <summary>The time of a repository's current mirror, from its marker file; null when there is not exactly one.</summary>
    private static DateTime? Current(string repository)
    {
        var data = Path.Combine(repository, "rdiff-backup-data");
        if (!Directory.Exists(data))
            return null;
        var markers = Directory.GetFiles(data, "current_mirror.*.data");
        if (markers.Length != 1)
            return null;
        var stamp = Path.GetFileName(markers[0])["current_mirror.".Length..^".data".Length];
        return DateTime.TryParse(stamp, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var t) ? t : null;
    }

    /// <summary>
    /// <paramref name="at"/>: null or <c>now</c> for the latest; a name <c>list</c> prints; or an
    /// ISO time (UTC, as the names are), meaning the latest point at or before it.
    /// </summary>
    public static RestorePoint Choose(IReadOnlyList<RestorePoint> points, string? at, string dst)
    {
        if (points.Count == 0)
            throw new ConfigException($"no backup in {dst}");
        if (at is null || at == Latest)
            return points[^1];
        var name = at.Trim();
        if (points.FirstOrDefault(p => p.Name == name) is { } named)
            return named;
        var time = ParseTime(name);
        return points.LastOrDefault(p => p.Time <= time)
            ?? throw new ConfigException($"no backup in {dst} at or before {SeriesNames.Of(time)}: the oldest is {points[0].Name}");
    }

    /// <summary>The series entry (archive or full-backup folder) that holds the point <paramref name="at"/> asks for, from the entries' names alone.</summary>
    public static string ChooseEntry(IReadOnlyList<string> entries, string? at, string dst) =>
        Choose([.. entries.Select(e => new RestorePoint(e, SeriesNames.TimeOf(e), e, null))], at, dst).Entry;

    public static DateTime ParseTime(string text) =>
        DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t
            : throw new ConfigException($"--at: not a backup name, an ISO time or 'now': '{text}' (btw-backup list DST shows the names)");
}
