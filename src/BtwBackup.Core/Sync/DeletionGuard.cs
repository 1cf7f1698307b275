namespace BtwBackup.Sync;

/// <summary>
/// How far a sync may delete on its own. <see cref="MaxDelete"/>: <c>sync.max-delete</c>;
/// <see cref="AllowDeletes"/>: <c>sync --allow-deletes</c>, an administrator's go-ahead for
/// what the limits hold back; <see cref="Planned"/>: paths (relative to root: a file, or a folder
/// with all under it) that a plan of the tool itself removed, such as a retention prune: their
/// keys are deleted whatever their number.
/// </summary>
public sealed record DeletionLimits(int MaxDelete, bool AllowDeletes = false)
{
    /// <summary>sync.max-delete of the embedded reference, nothing allowed beyond it.</summary>
    public static DeletionLimits Default => new(Config.SyncSettings.Default.MaxDelete);

    public IReadOnlySet<string> Planned { get; init; } = new HashSet<string>(StringComparer.Ordinal);
}

/// <summary>A sync that deletes nothing: the path stays pending. One line, saying why and what it held back.</summary>
public sealed class DeletionRefusedException(string message) : IOException(message);

/// <summary>
/// What a sync of one folder would delete, seen before anything is deleted. Paths are relative
/// to root (<c>/</c> separators); <see cref="Folder"/> is the folder synced ("" for root).
/// </summary>
public sealed record DeletionPlan(string Folder, int LocalFiles, IReadOnlySet<string> LocalTopLevel, int RemoteObjects, IReadOnlyList<string> Deletions);

/// <summary>
/// Deletion on a destination is never a side effect of an empty disk. A pure rule, shared by
/// sync (which then deletes nothing) and verify (which reports it):
/// <list type="bullet">
/// <item>nothing is deleted when the local folder holds no file (an unmounted disk looks like that), whatever the flags;</item>
/// <item>a whole series (a top-level folder of the destination that root does not hold) is not deleted;</item>
/// <item>nor more than <c>sync.max-delete</c> objects, nor more than half of the folder's remote objects;</item>
/// <item>the last two give way to <c>--allow-deletes</c>; deletions a plan of the tool made are always allowed.</item>
/// </list>
/// </summary>
public static class DeletionGuard
{
    private const int Examples = 3;

    /// <summary>Why this sync must delete nothing, or null when it may go ahead.</summary>
    public static string? Refusal(DeletionPlan plan, DeletionLimits limits)
    {
        var deletions = plan.Deletions.Where(d => !limits.Planned.Any(p => SyncState.Covers(p, d))).Order(StringComparer.Ordinal).ToList();
        if (deletions.Count == 0)
            return null;
        var where = plan.Folder.Length == 0 ? "root" : plan.Folder.TrimEnd('/');
        var held = $"{deletions.Count} object(s) kept, e.g. {Few(deletions)}";
        if (plan.LocalFiles == 0)
            return $"nothing deleted: the local folder {where} holds no file (an unmounted disk?): {held}; the sync stays pending until it holds the backups again";
        if (limits.AllowDeletes)
            return null;

        var series = deletions
            .Where(d => d.Contains('/') && !plan.LocalTopLevel.Contains(d[..d.IndexOf('/')]))
            .GroupBy(d => d[..d.IndexOf('/')], StringComparer.Ordinal)
            .ToList();
        if (series.Count > 0)
        {
            var names = string.Join(", ", series.Take(Examples).Select(g => $"{g.Key} ({g.Count()} object(s))")) + (series.Count > Examples ? $" and {series.Count - Examples} more" : "");
            return $"nothing deleted: root does not hold the series {names} that the destination holds: a sync never deletes a whole series; sync --allow-deletes if it was removed on purpose; the sync stays pending";
        }

        if (deletions.Count > limits.MaxDelete)
            return $"nothing deleted: the sync of {where} would delete {deletions.Count} object(s), more than sync.max-delete ({limits.MaxDelete}), e.g. {Few(deletions)}; sync --allow-deletes to go ahead; the sync stays pending";
        if (deletions.Count * 2 > plan.RemoteObjects)
            return $"nothing deleted: the sync of {where} would delete {deletions.Count} of its {plan.RemoteObjects} object(s) on the destination, more than half, e.g. {Few(deletions)}; sync --allow-deletes to go ahead; the sync stays pending";
        return null;
    }

    private static string Few(List<string> keys) =>
        string.Join(", ", keys.Take(Examples).Select(k => ObjectStore.SafePath.Show(k))) + (keys.Count > Examples ? ", ..." : "");
}
