using System.Collections.Immutable;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.Protocol;

namespace BtwBackup.Actors;

/// <summary>Turns configured sources into jobs (in a task: it reads and may create working folders).</summary>
public static class PassJobs
{
    public static ImmutableList<PassItem> Resolve(GeneralSettings settings, IEnumerable<ConfiguredSource> sources) =>
        [.. sources.Select(source =>
        {
            var location = new SeriesLocation(settings.RootPath, source.Dst);
            try
            {
                BackupJob job = source switch
                {
                    TreeSource tree => new FileTreeJob(FolderFor(settings, tree), location, null),
                    DatabaseSource db => new DatabaseJob(db.Target, location, null),
                    _ => throw new InvalidOperationException("unknown source kind " + source.GetType().Name),
                };
                return new PassItem(source.Name, TypeName(source), source.Dst, job, null);
            }
            catch (Exception e) when (ErrorReport.IsExpected(e))
            {
                return new PassItem(source.Name, TypeName(source), source.Dst, null, e.Message);
            }
        })];

    /// <summary>
    /// The job of <c>fs SRC DST</c>. One precedence for fs and run: a tree that a source of
    /// btw-backup.conf declares takes that source's settings, else SRC's fs-init working folder.
    /// </summary>
    public static FileTreeJob For(GeneralSettings settings, BackupFileTree backup)
    {
        var configured = settings.Sources.OfType<TreeSource>()
            .FirstOrDefault(t => Path.TrimEndingDirectorySeparator(t.Path) == Path.TrimEndingDirectorySeparator(backup.Source));
        return new FileTreeJob(
            configured is not null ? FolderFor(settings, configured) : WorkingFolders.Load(settings.ConfigDir, backup.Source, settings.Defaults),
            new SeriesLocation(settings.RootPath, SeriesPath.Check(backup.Dst)),
            backup.Owner);
    }

    public static string TypeName(ConfiguredSource source) => source switch
    {
        TreeSource t => SourceTypes.Name(t.Type),
        DatabaseSource { Target.Database: null } => "pg-globals",
        _ => "pg-dump",
    };

    /// <summary>
    /// The fs-init working folder of a configured tree (NAME.HASH, found by the hash of its
    /// path), created on first use: <c>fs PATH DST</c> and the source share one history. The
    /// configured type and policy win over the folder's source.conf; a different type is refused.
    /// </summary>
    public static WorkingFolder FolderFor(GeneralSettings settings, TreeSource tree)
    {
        if (!Directory.Exists(tree.Path))
            throw new ConfigException($"the source path {tree.Path} does not exist");
        var path = WorkingFolders.FindPath(settings.ConfigDir, tree.Path)
            ?? WorkingFolders.Create(settings.ConfigDir, tree.Path, tree.Name, tree.Type, tree.Policy);
        var (type, _) = ConfigLoader.LoadSource(path, tree.Policy);
        if (type != tree.Type)
            throw new ConfigException($"source {tree.Name} is configured as {SourceTypes.Name(tree.Type)} but its working folder {path} is of type {SourceTypes.Name(type)}");
        return new WorkingFolder(path, tree.Path, tree.Type, tree.Policy);
    }
}

/// <summary>How a backup ended, as <c>run</c> and <c>status</c> show it.</summary>
public static class PassRuns
{
    public static SourceRun Of(BackupCompleted done) => new(
        done.Outcome.Kind switch
        {
            BackupResultKind.StoredFull => "full",
            BackupResultKind.StoredIncrement => "increment",
            _ => "unchanged",
        },
        done.Outcome.Name, null, DateTime.UtcNow, done.Duration.TotalSeconds, done.Outcome.Bytes);

    public static SourceRun Of(BackupFailed failed) => new(SourceRun.Failed, null,
        string.Join(" ", failed.ErrorLines.Select(ErrorReport.Bare)),
        DateTime.UtcNow, failed.Duration.TotalSeconds, 0);
}
