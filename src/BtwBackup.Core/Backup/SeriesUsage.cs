using BtwBackup.Backup;

namespace BtwBackup.Backup;

/// <summary>What a series holds locally: its points (archives, and backups in each full-backup folder) and the bytes of its files.</summary>
public sealed record SeriesUsage(int Points, long Bytes)
{
    /// <summary>
    /// Measured from the folder alone, without running rdiff-backup: each full-backup folder
    /// counts one point per backup session (rdiff-backup writes one mirror_metadata file per
    /// session and removes it with the session's increments). Null when the series does not exist.
    /// </summary>
    public static SeriesUsage? Measure(string seriesDir)
    {
        if (!Directory.Exists(seriesDir))
            return null;
        var points = 0;
        foreach (var name in SeriesNames.List(seriesDir))
        {
            var path = Path.Combine(seriesDir, name);
            if (!Directory.Exists(path))
            {
                points++;
                continue;
            }

            var data = Path.Combine(path, RdiffRepository.DataDir);
            points += Directory.Exists(data) ? Math.Max(1, Directory.EnumerateFiles(data, "mirror_metadata.*").Count()) : 1;
        }

        var bytes = new DirectoryInfo(seriesDir)
            .EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint })
            .Sum(f => f.Length);
        return new SeriesUsage(points, bytes);
    }
}
