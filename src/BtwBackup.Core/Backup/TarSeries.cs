using System.Collections.Immutable;
using BtwBackup.Platform;
using BtwBackup.Tools;

namespace BtwBackup.Backup;

/// <summary>
/// A tar series: each backup is DST/YYYY-MM-DDTHH:MM:SS.tbz. The archive is written under a
/// hidden partial name and renamed once complete and different from the last one, so an
/// interrupted backup never leaves a file that looks like a backup.
/// </summary>
public sealed class TarSeries(Tar tar, IClock clock)
{
    public async Task<BackupOutcome> BackupAsync(string sourceDir, SeriesLocation series, Ownership? owner, IProgress<string>? progress, CancellationToken ct)
    {
        var dir = series.FullPath;
        var existing = SeriesNames.List(dir).Where(n => n.EndsWith(SeriesNames.TarSuffix, StringComparison.Ordinal)).ToList();
        var last = existing.LastOrDefault();
        var now = await clock.NextFreeSecondAsync(existing.Select(SeriesNames.TimeOf), ct);
        var name = SeriesNames.Of(now) + SeriesNames.TarSuffix;
        var partial = Path.Combine(dir, "." + name + ".partial");
        try
        {
            progress?.Report($"tar: archiving {sourceDir}");
            var warnings = await tar.CreateAsync(sourceDir, partial, bzip2: true, ct);
            progress?.Report("comparing with the last backup");
            if (last is not null && await FileContent.SameAsync(partial, Path.Combine(dir, last), ct))
            {
                File.Delete(partial);
                await SeriesLog.AppendAsync(series, name + SeriesLog.NoChange + "dropping backup", owner, ct);
                return new BackupOutcome(BackupResultKind.Unchanged, name, 0, [.. warnings],
                    [new PendingPath(series.Relative(SeriesNames.LogFileName), Sync: false)]);
            }

            if (owner is not null)
                Posix.Chown(partial, owner);
            var size = new FileInfo(partial).Length;
            FileContent.Fsync(partial);
            var final = Path.Combine(dir, name);
            File.Move(partial, final);
            return new BackupOutcome(BackupResultKind.StoredFull, name, size, [.. warnings],
                [new PendingPath(series.Relative(name), Sync: false)]);
        }
        catch (Exception e) when (DiskSpace.IsTarShortOfSpace(e, dir))
        {
            // Asked while the partial archive still fills the disk; removed below: the series is as it was.
            throw DiskSpace.NoSpace(dir);
        }
        finally
        {
            if (File.Exists(partial))
                File.Delete(partial);
        }
    }
}
