namespace BtwBackup.Config;

/// <summary>When an rdiff-backup series starts a new full backup, and which of its points a retention policy keeps (null: all).</summary>
public sealed record SeriesPolicy(int MaxIncrementalCount, TimeSpan MaxIncrementalSpan)
{
    /// <summary><c>defaults</c> of the embedded reference.</summary>
    public static SeriesPolicy Default => ConfigLoader.Builtin.Defaults;

    public Retention.RetentionPolicy? Retention { get; init; }
}

public enum SourceType
{
    Rdiff,
    Tar,
}

/// <summary>The general configuration, read once at the edge and validated.</summary>
public sealed record GeneralSettings(
    string ConfigDir,
    string RootPath,
    SeriesPolicy Defaults,
    string LogFile,
    string LogLevel,
    TimeSpan LockTimeout,
    string LoadedFrom)
{
    /// <summary>The sources declared in btw-backup.conf (none for a legacy config.py).</summary>
    public System.Collections.Immutable.ImmutableList<ConfiguredSource> Sources { get; init; } = [];

    /// <summary>The S3 destinations that mirror root (none: backups stay local).</summary>
    public System.Collections.Immutable.ImmutableList<DestinationSettings> Destinations { get; init; } = [];

    public SyncSettings Sync
    {
        get => _sync ?? SyncSettings.Default;
        init => _sync = value;
    }

    /// <summary>Where the daemon listens and when it runs a pass.</summary>
    public DaemonSettings Daemon
    {
        get => _daemon ?? DaemonSettings.Default;
        init => _daemon = value;
    }

    /// <summary>The cluster this node belongs to; null: a single node.</summary>
    public ClusterSettings? Cluster { get; init; }

    /// <summary>How many sources a pass (<c>run</c>) backs up at once.</summary>
    public int PassParallelism
    {
        get => _passParallelism ?? ConfigLoader.Builtin.PassParallelism;
        init => _passParallelism = value;
    }

    // Unset (settings built in code, as tests do): the embedded reference's, read when asked.
    private readonly SyncSettings? _sync;
    private readonly DaemonSettings? _daemon;
    private readonly int? _passParallelism;

    /// <summary>monitoring: pings and the webhook.</summary>
    public MonitoringSettings Monitoring { get; init; } = MonitoringSettings.None;

    /// <summary>http: the daemon's status page and /metrics; null: off (the default).</summary>
    public HttpSettings? Http { get; init; }

    /// <summary>retention.timezone: the zone in which retention counts days, weeks, months and years.</summary>
    public TimeZoneInfo RetentionZone { get; init; } = TimeZoneInfo.Local;

    /// <summary>retention.after-pass: every pass prunes its sources' series after their backups, before its sync.</summary>
    public bool PruneAfterPass { get; init; }

    /// <summary>
    /// The policy of the series at <paramref name="dst"/>: its configured source's; else, for a
    /// series of <c>db DB</c> (or <c>db -g</c>), that database's (db/DB.conf); else the defaults'
    /// (null: no retention, every point kept); counted in <see cref="RetentionZone"/>.
    /// </summary>
    public Retention.RetentionPolicy? RetentionOf(string dst)
    {
        var policy = Sources.FirstOrDefault(s => s.Dst == dst) switch
        {
            TreeSource t => t.Policy.Retention,
            DatabaseSource d => d.Target.Policy.Retention,
            _ => DatabaseOfSeries(Path.Combine(RootPath, dst)) is { } db
                ? Database(db == DatabaseTarget.GlobalName ? null : db).Policy.Retention
                : Defaults.Retention,
        };
        return policy is null ? null : policy with { TimeZone = RetentionZone };
    }

    /// <summary>
    /// The database a series made by <c>db</c> holds, from the one file of its newest full-backup
    /// folder: DB for DB.dump, <c>global</c> for global.sql.bz2 (its settings file's name); null
    /// for any other series.
    /// </summary>
    public static string? DatabaseOfSeries(string seriesDir)
    {
        if (!Directory.Exists(seriesDir) || Backup.SeriesNames.List(seriesDir).LastOrDefault(n => Directory.Exists(Path.Combine(seriesDir, n))) is not { } newest)
            return null;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(seriesDir, newest)).Select(Path.GetFileName).Order(StringComparer.Ordinal))
        {
            if (file == DatabaseTarget.GlobalFileName)
                return DatabaseTarget.GlobalName;
            // The names db accepts: a database whose settings file can be named.
            if (file!.EndsWith(".dump", StringComparison.Ordinal) && file.Length > ".dump".Length && !file.StartsWith('.')
                && file[..^".dump".Length] is var name && name != DatabaseTarget.GlobalName)
                return name;
        }

        return null;
    }

    /// <summary>For a legacy config.py without S3_URI_PREFIX or S3CMD_CONFIG: the original's message, for the commands that sync.</summary>
    public string? DestinationError { get; init; }

    /// <summary>
    /// A database's settings: from a pg-dump (or, for the globals, pg-globals) source of
    /// btw-backup.conf if one names it, else from db/NAME.conf or db/NAME.py, else the defaults.
    /// </summary>
    public DatabaseTarget Database(string? database) =>
        Sources.OfType<DatabaseSource>().FirstOrDefault(s => s.Target.Database == database)?.Target
        ?? ConfigLoader.LoadDatabase(ConfigDir, database, Defaults);
}

/// <summary>Where the daemon's web server listens (a loopback address).</summary>
public sealed record HttpSettings(System.Net.IPAddress Address, int Port);

/// <summary>A working folder made by fs-init (or by the original): CONFIG_DIR/NAME.HASH.</summary>
public sealed record WorkingFolder(string Path, string Source, SourceType Type, SeriesPolicy Policy)
{
    public string Name => System.IO.Path.GetFileName(Path);

    /// <summary>Scratch space for the backup being made.</summary>
    public string BackupDir => System.IO.Path.Combine(Path, "backup");
}

public static class SourceTypes
{
    public static string Name(SourceType t) => t switch
    {
        SourceType.Rdiff => "rdiff",
        SourceType.Tar => "tar",
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    public static SourceType Parse(string? text) => text switch
    {
        "rdiff" => SourceType.Rdiff,
        "tar" => SourceType.Tar,
        _ => throw new ConfigException("unknown backup type: " + (text ?? "None")),
    };
}

/// <summary>The daemon's address (loopback by default), its TLS, and its schedule (a cron expression; null: on demand only).</summary>
public sealed record DaemonSettings(string Hostname, int Port, Cronos.CronExpression? Schedule, string? ScheduleText)
{
    /// <summary><c>daemon</c> of the embedded reference.</summary>
    public static DaemonSettings Default => ConfigLoader.Builtin.Daemon;

    public static int DefaultPort => Default.Port;

    /// <summary>daemon.tls: pinned mutual TLS on the daemon's port (null: plain TCP, loopback only).</summary>
    public Daemon.TlsSettings? Tls { get; init; }

    /// <summary>
    /// How long a schedule's timer waits for <paramref name="at"/>: long waits are cut into days
    /// (the scheduler is not meant for months, and the clock may move), and a timer that fires
    /// more than a second early (<see cref="IsEarly"/>) waits again.
    /// </summary>
    public static TimeSpan TimerWait(DateTime at, DateTime now) => at - now < TimeSpan.FromDays(1) ? at - now : TimeSpan.FromDays(1);

    public static bool IsEarly(DateTime at, DateTime now) => at - now > TimeSpan.FromSeconds(1);

    /// <summary>The next time the schedule fires after <paramref name="after"/> (local time zone), or null.</summary>
    public DateTime? NextRun(DateTime after) =>
        Schedule?.GetNextOccurrence(DateTime.SpecifyKind(after, DateTimeKind.Utc), TimeZoneInfo.Local);
}
