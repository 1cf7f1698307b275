using System.Collections.Immutable;
using BtwBackup.Backup;
using BtwBackup.Platform;
using BtwBackup.Tools;

namespace BtwBackup.Retention;

/// <summary>What <c>prune</c> did (or, dry, would do) to one series; with <see cref="Error"/>, why it was not pruned.</summary>
public sealed record SeriesPrune(string Dst, RetentionPlan Plan, bool DryRun)
{
    public string? Error { get; init; }

    public static SeriesPrune Failed(string dst, string error) => new(dst, new RetentionPlan([], []), DryRun: false) { Error = error };
}

/// <summary>
/// Removes the points of a series its retention policy does not keep (see
/// <see cref="RetentionPlanner"/>). In this order, so that a crash at any step is finished by the
/// next prune and nothing outside the plan is ever deleted anywhere:
/// <list type="number">
/// <item>every destination records, in its journal, the series as to sync and each removed path as a planned deletion (only those are deleted there beyond the sync's limits);</item>
/// <item>an archive or a whole full-backup folder is renamed to a hidden <c>.pruned-NAME</c>, then removed (a leftover is removed first by the next prune);</item>
/// <item>a full-backup folder that keeps its newer points loses the older ones with <c>rdiff-backup remove increments --older-than</c> the oldest kept point, then is renamed to that point's name, as a folder is named by its oldest point; a marker <c>.prune-rename-NAME</c> written first lets the next prune finish the rename (only once the increments are gone).</item>
/// </list>
/// </summary>
public sealed class Pruner(RdiffBackup rdiff)
{
    public const string HiddenPrefix = ".pruned-";

    public const string RenamePrefix = ".prune-rename-";

    public async Task<SeriesPrune> PruneAsync(
        SeriesLocation series,
        RetentionPolicy policy,
        bool dryRun,
        Func<ImmutableList<PendingPath>, CancellationToken, Task>? announce,
        CancellationToken ct)
    {
        var dir = series.FullPath;
        if (!Directory.Exists(dir))
            throw new BackupException(File.Exists(dir) ? $"{series.Dst} is a file, not a series folder: nothing was pruned" : $"no backups at {series.Dst}: {dir} does not exist");
        // A DST is checked as text; on disk, a symbolic link on the way would take the deletions out of root.
        var current = series.RootPath;
        foreach (var part in series.Dst.Split('/'))
        {
            current = Path.Combine(current, part);
            if (new FileInfo(current).LinkTarget is { } target)
                throw new BackupException($"{series.Dst}: {current} is a symbolic link (to {target}); prune deletes only inside root: nothing was pruned");
        }

        if (!dryRun)
            await FinishInterruptedAsync(dir, ct);

        // A killed increment is the next backup's to regress: its points are not yet what they seem.
        if (SeriesNames.List(dir).FirstOrDefault(n => Directory.Exists(Path.Combine(dir, n)) && RdiffRepository.IsInterrupted(Path.Combine(dir, n))) is { } interrupted)
            throw new BackupException($"{series.Dst}/{interrupted}: {RdiffRepository.InterruptedNote}; nothing was pruned (prune after that backup)");

        var plan = RetentionPlanner.Plan(RetentionPlanner.PointsOf(await EntriesAsync(dir, ct)), policy);
        if (dryRun || plan.Steps.IsEmpty)
            return new SeriesPrune(series.Dst, plan, dryRun);

        if (announce is not null)
        {
            await announce(
                [new PendingPath(series.Dst, Sync: true), .. plan.Steps.Select(s => new PendingPath($"{series.Dst}/{s.Name}", Sync: false, Deletion: true))],
                ct);
        }

        CrashPoint.Reach(CrashPoint.PrunePlanned);
        foreach (var step in plan.Steps)
        {
            ct.ThrowIfCancellationRequested();
            var path = Path.Combine(dir, step.Name);
            switch (step)
            {
                case RemoveWhole:
                    RemoveHidden(dir, step.Name);
                    break;
                case RemoveIncrementsBefore older:
                    var marker = Path.Combine(dir, RenamePrefix + step.Name);
                    await File.WriteAllTextAsync(marker, SeriesNames.Of(older.OldestKept), ct);
                    await rdiff.RemoveIncrementsOlderThanAsync(path, older.OldestKept, ct);
                    CrashPoint.Reach(CrashPoint.PruneIncrementsRemoved);
                    RenameToOldest(dir, step.Name, older.OldestKept);
                    File.Delete(marker);
                    break;
            }
        }

        return new SeriesPrune(series.Dst, plan, dryRun);
    }

    /// <summary>The entries of a series folder with, for a full-backup folder, its backup times.</summary>
    public async Task<IReadOnlyList<(string Name, IReadOnlyList<DateTime> Times)>> EntriesAsync(string dir, CancellationToken ct)
    {
        var entries = new List<(string Name, IReadOnlyList<DateTime> Times)>();
        foreach (var name in SeriesNames.List(dir))
        {
            var path = Path.Combine(dir, name);
            entries.Add((name, name.EndsWith(SeriesNames.TarSuffix, StringComparison.Ordinal) || !Directory.Exists(path)
                ? []
                : await rdiff.ListBackupTimesAsync(path, ct)));
        }

        return entries;
    }

    /// <summary>What a prune interrupted left: hidden removals to finish, and folders to rename once their old increments are gone.</summary>
    private async Task FinishInterruptedAsync(string dir, CancellationToken ct)
    {
        foreach (var hidden in Directory.EnumerateFileSystemEntries(dir, HiddenPrefix + "*").ToList())
            Delete(hidden);
        foreach (var marker in Directory.EnumerateFiles(dir, RenamePrefix + "*").ToList())
        {
            var name = Path.GetFileName(marker)[RenamePrefix.Length..];
            var target = (await File.ReadAllTextAsync(marker, ct)).Trim();
            var repo = Path.Combine(dir, name);
            if (SeriesNames.IsBackupName(name) && SeriesNames.IsBackupName(target) && Directory.Exists(repo)
                && (await rdiff.ListBackupTimesAsync(repo, ct)) is [var oldest, ..] && SeriesNames.Of(oldest) == target)
                RenameToOldest(dir, name, oldest);
            // Else the increments are still there: this prune plans them again.
            File.Delete(marker);
        }
    }

    private static void RemoveHidden(string dir, string name)
    {
        var path = Path.Combine(dir, name);
        var hidden = Path.Combine(dir, HiddenPrefix + name);
        if (Directory.Exists(path))
            Directory.Move(path, hidden);
        else if (File.Exists(path))
            File.Move(path, hidden);
        CrashPoint.Reach(CrashPoint.PruneHidden);
        Delete(hidden);
    }

    private static void RenameToOldest(string dir, string name, DateTime oldest)
    {
        var target = SeriesNames.Of(oldest);
        if (target != name && !Directory.Exists(Path.Combine(dir, target)))
            Directory.Move(Path.Combine(dir, name), Path.Combine(dir, target));
    }

    private static void Delete(string path)
    {
        if (Directory.Exists(path))
            Directory.Delete(path, recursive: true);
        else if (File.Exists(path))
            File.Delete(path);
    }
}
