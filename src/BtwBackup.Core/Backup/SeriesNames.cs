using System.Globalization;
using System.Text.RegularExpressions;

namespace BtwBackup.Backup;

/// <summary>
/// Names in a series folder: one per backup, the UTC start time <c>YYYY-MM-DDTHH:MM:SS</c>,
/// with <c>.tbz</c> for tar series. Anything else in the folder (log.txt, a partial file being
/// written) is not a backup.
/// </summary>
public static partial class SeriesNames
{
    public const string TarSuffix = ".tbz";
    public const string LogFileName = "log.txt";
    private const string Format = "yyyy-MM-dd'T'HH:mm:ss";

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")]
    private static partial Regex BackupName();

    public static bool IsBackupName(string name) => BackupName().IsMatch(name);

    public static string Of(DateTime utc) => utc.ToString(Format, CultureInfo.InvariantCulture);

    public static DateTime TimeOf(string name) =>
        DateTime.ParseExact(name[..19], Format, CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    public static DateTime TruncateToSecond(DateTime t) => new(t.Ticks - t.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);

    /// <summary>The backups in a series folder, oldest first (their names sort by time).</summary>
    public static IReadOnlyList<string> List(string seriesDir)
    {
        if (!Directory.Exists(seriesDir))
            return [];
        var names = Directory.EnumerateFileSystemEntries(seriesDir)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(IsBackupName)
            .ToList();
        names.Sort(StringComparer.Ordinal);
        return names;
    }
}
