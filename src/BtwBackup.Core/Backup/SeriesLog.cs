using BtwBackup.Platform;

namespace BtwBackup.Backup;

/// <summary>The series' log.txt: one line per skipped backup, as the original wrote them.</summary>
public static class SeriesLog
{
    public const string NoChange = ": no change in the data to be backed up: ";

    public static async Task AppendAsync(SeriesLocation series, string line, Ownership? owner, CancellationToken ct)
    {
        var path = Path.Combine(series.FullPath, SeriesNames.LogFileName);
        await File.AppendAllTextAsync(path, line + "\n", ct);
        if (owner is not null)
            Posix.Chown(path, owner);
    }
}
