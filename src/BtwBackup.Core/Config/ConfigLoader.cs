using System.Collections.Immutable;
using System.Reflection;
using Akka.Configuration;
using HoconConfig = Akka.Configuration.Config;

namespace BtwBackup.Config;

/// <summary>
/// Reads the configuration directory: btw-backup.conf (HOCON, over the embedded reference) or
/// the original's config.py; per-source source.conf or config.py; per-database db/NAME.conf or
/// db/NAME.py. Every problem becomes a <see cref="ConfigException"/> with one clear line.
/// </summary>
public static class ConfigLoader
{
    public const string GeneralFileName = "btw-backup.conf";
    public const string LegacyGeneralFileName = "config.py";
    public const string SourceFileName = "source.conf";
    public const string LegacySourceFileName = "config.py";

    private static readonly Lazy<HoconConfig> ReferenceConfig = new(() => ConfigurationFactory.ParseString(ReadResource("BtwBackup.reference.conf")));

    public static HoconConfig Reference => ReferenceConfig.Value;

    internal static string ReadResource(string name)
    {
        using var stream = typeof(ConfigLoader).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException("missing embedded resource " + name);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static string DefaultConfigDir()
    {
        var home = Environment.GetEnvironmentVariable("HOME");
        if (string.IsNullOrEmpty(home))
            home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".btw-backup");
    }

    public static GeneralSettings LoadGeneral(string configDir)
    {
        configDir = Path.GetFullPath(configDir);
        var hoconPath = Path.Combine(configDir, GeneralFileName);
        if (File.Exists(hoconPath))
            return FromHocon(configDir, ParseHoconFile(hoconPath).WithFallback(Reference), hoconPath);

        var legacyPath = Path.Combine(configDir, LegacyGeneralFileName);
        if (File.Exists(legacyPath))
            return FromLegacy(configDir, LegacyPyFile.Load(legacyPath), legacyPath);

        throw new ConfigException(
            $"no general configuration in {configDir}: create {hoconPath} with at least root-path = \"/path/to/backups\"");
    }

    public static HoconConfig ParseHoconFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"cannot read {path}: {e.Message}");
        }

        return ParseHocon(text, path);
    }

    public static HoconConfig ParseHocon(string text, string path)
    {
        if (HoconSyntax.Check(text) is { } problem)
            throw new ConfigException($"{path}:{problem.Line}: malformed HOCON: {problem.Message}");
        try
        {
            return ConfigurationFactory.ParseString(text);
        }
        catch (Exception e) when (e is not ConfigException)
        {
            throw new ConfigException($"{path}: malformed HOCON: {e.Message.ReplaceLineEndings(" ").Trim()}");
        }
    }

    internal static GeneralSettings FromHocon(string configDir, HoconConfig config, string path)
    {
        var root = Str(config, "root-path", path)
            ?? throw new ConfigException("you must specify root-path in the general configuration");
        var logFile = Str(config, "log-file", path) ?? "btw-backup.log";
        var level = (Str(config, "log-level", path) ?? "INFO").ToUpperInvariant();
        if (level is not ("DEBUG" or "INFO" or "WARNING" or "ERROR"))
            throw new ConfigException($"{path}: log-level must be DEBUG, INFO, WARNING or ERROR, not '{level}'");
        var defaults = ReadPolicy(config, "defaults.", SeriesPolicy.Default, path);
        return new GeneralSettings(
            configDir,
            ValidateRoot(root),
            defaults,
            Path.Combine(configDir, logFile),
            level,
            Duration(config, "lock-timeout", path) ?? TimeSpan.FromHours(1),
            path)
        {
            Sources = SourcesReader.Read(config, defaults, path),
            Destinations = DestinationsReader.Read(config, path),
            Sync = new SyncSettings(
                Int(config, "sync.parallelism", path, min: 1) ?? SyncSettings.Default.Parallelism,
                Duration(config, "sync.history-window", path) ?? SyncSettings.Default.HistoryWindow,
                Int(config, "sync.snapshot-every", path, min: 1) ?? SyncSettings.Default.SnapshotEvery)
            {
                PostgresJournal = Journal(config, path),
                MaxDelete = Int(config, "sync.max-delete", path, min: 0) ?? SyncSettings.Default.MaxDelete,
            },
            Daemon = ReadDaemon(config, path, configDir),
            PassParallelism = Int(config, "run.parallelism", path, min: 1) ?? 2,
        };
    }

    internal static GeneralSettings FromLegacy(string configDir, ImmutableDictionary<string, PyValue> values, string path)
    {
        if (!values.TryGetValue("ROOT_PATH", out var root) || root is not PyValue.Str { Value: var rootPath })
            throw new ConfigException("you must specify ROOT_PATH in the general configuration");
        var uri = values.GetValueOrDefault("S3_URI_PREFIX") as PyValue.Str;
        var s3cmd = values.GetValueOrDefault("S3CMD_CONFIG") as PyValue.Str;
        string? destinationError = null;
        var destinations = System.Collections.Immutable.ImmutableList<DestinationSettings>.Empty;
        if (uri is null)
            destinationError = "you must specify S3_URI_PREFIX in the general configuration";
        else if (s3cmd is null)
            destinationError = "you must specify S3CMD_CONFIG in the general configuration";
        else
            destinations = [DestinationsReader.Legacy(uri.Value, s3cmd.Value)];
        return new GeneralSettings(
            configDir,
            ValidateRoot(rootPath),
            SeriesPolicy.Default,
            Path.Combine(configDir, "btw-backup.log"),
            "INFO",
            TimeSpan.FromHours(1),
            path)
        {
            Destinations = destinations,
            DestinationError = destinationError,
        };
    }

    private static string? Journal(HoconConfig config, string path)
    {
        var provider = Str(config, "sync.journal.provider", path) ?? "sqlite";
        var connection = Str(config, "sync.journal.connection-string", path);
        return provider switch
        {
            "sqlite" when connection is null => null,
            "sqlite" => throw new ConfigException($"{path}: sync.journal.connection-string is only for provider = postgresql (the SQLite journal lives in the configuration directory)"),
            "postgresql" => connection ?? throw new ConfigException($"{path}: sync.journal.connection-string is required with provider = postgresql"),
            _ => throw new ConfigException($"{path}: sync.journal.provider must be sqlite or postgresql, not '{provider}'"),
        };
    }

    private static DaemonSettings ReadDaemon(HoconConfig config, string path, string configDir)
    {
        var certificate = Str(config, "daemon.tls.certificate", path);
        var key = Str(config, "daemon.tls.key", path);
        if ((certificate is null) != (key is null))
            throw new ConfigException($"{path}: daemon.tls needs both certificate and key (PEM files), or neither");
        var tls = certificate is null ? null : new Daemon.TlsSettings(Path.Combine(configDir, certificate), Path.Combine(configDir, key!));
        var hostname = Str(config, "daemon.hostname", path) ?? DaemonSettings.Default.Hostname;
        var port = Int(config, "daemon.port", path, min: 1) ?? DaemonSettings.DefaultPort;
        if (port > 65535)
            throw new ConfigException($"{path}: daemon.port must be a TCP port (1 to 65535), not {port}");
        var text = Str(config, "daemon.schedule", path);
        Cronos.CronExpression? schedule = null;
        if (text is not null)
        {
            try
            {
                schedule = Cronos.CronExpression.Parse(text);
            }
            catch (Cronos.CronFormatException e)
            {
                throw new ConfigException($"{path}: daemon.schedule must be a cron expression (minute hour day month weekday, e.g. \"30 2 * * *\"), not '{text}': {e.Message}");
            }
        }

        return new DaemonSettings(hostname, port, schedule, text) { Tls = tls };
    }

    private static int? Int(HoconConfig config, string key, string path, int min)
    {
        var text = Str(config, key, path);
        if (text is null)
            return null;
        return int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= min
            ? n
            : throw new ConfigException($"{path}: {key} must be a whole number of {min} or more, not '{text}'");
    }

    private static string ValidateRoot(string root)
    {
        if (!Path.IsPathRooted(root))
            throw new ConfigException($"the root path must be absolute: {root}");
        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
    }

    /// <summary>Reads a working folder's type and policy (source.conf, else the original's config.py).</summary>
    public static (SourceType Type, SeriesPolicy Policy) LoadSource(string workingDir, SeriesPolicy defaults)
    {
        var hoconPath = Path.Combine(workingDir, SourceFileName);
        if (File.Exists(hoconPath))
        {
            var config = ParseHoconFile(hoconPath);
            var type = SourceTypes.Parse(Str(config, "type", hoconPath));
            return (type, ReadPolicy(config, "", defaults, hoconPath));
        }

        var legacyPath = Path.Combine(workingDir, LegacySourceFileName);
        if (File.Exists(legacyPath))
        {
            var values = LegacyPyFile.Load(legacyPath);
            var type = SourceTypes.Parse(values.GetValueOrDefault("TYPE") is PyValue.Str s ? s.Value : null);
            return (type, ReadLegacyPolicy(values, defaults, legacyPath));
        }

        throw new ConfigException($"the working directory {workingDir} has no {SourceFileName} (nor config.py)");
    }

    /// <summary>
    /// A database's settings (policy, and how to reach it) from db/NAME.conf, else the original's
    /// db/NAME.py, else the defaults. <paramref name="database"/> null means the globals (db/global.*).
    /// </summary>
    public static DatabaseTarget LoadDatabase(string configDir, string? database, SeriesPolicy defaults)
    {
        var name = database ?? DatabaseTarget.GlobalName;
        var hoconPath = Path.Combine(configDir, "db", name + ".conf");
        if (File.Exists(hoconPath))
        {
            var config = ParseHoconFile(hoconPath);
            return new DatabaseTarget(database, ReadConnection(config, "", hoconPath), ReadPolicy(config, "", defaults, hoconPath));
        }

        var legacyPath = Path.Combine(configDir, "db", name + ".py");
        if (File.Exists(legacyPath))
        {
            var values = LegacyPyFile.Load(legacyPath);
            if (values.ContainsKey("PASSWORD"))
                throw new ConfigException($"{legacyPath}: a password does not belong in the configuration: use ~/.pgpass or PGPASSWORD");
            var port = values.GetValueOrDefault("PORT") switch
            {
                null or PyValue.None => (int?)null,
                PyValue.Int { Value: > 0 and < 65536 } p => (int)p.Value,
                _ => throw new ConfigException($"{legacyPath}: PORT must be a port number"),
            };
            var connection = new PgConnection(
                values.GetValueOrDefault("HOST") is PyValue.Str h ? h.Value : null,
                port,
                values.GetValueOrDefault("USER") is PyValue.Str u ? u.Value : null);
            return new DatabaseTarget(database, connection, ReadLegacyPolicy(values, defaults, legacyPath));
        }

        return new DatabaseTarget(database, PgConnection.Default, defaults);
    }

    internal static PgConnection ReadConnection(HoconConfig config, string prefix, string path)
    {
        if (config.HasPath(prefix + "password"))
            throw new ConfigException($"{path}: a password does not belong in the configuration: use ~/.pgpass or PGPASSWORD");
        int? port = null;
        if (Str(config, prefix + "port", path) is { } portText)
        {
            port = int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536
                ? p
                : throw new ConfigException($"{path}: {prefix}port must be a port number, not '{portText}'");
        }

        return new PgConnection(Str(config, prefix + "host", path), port, Str(config, prefix + "user", path));
    }

    /// <summary>The text fs-init writes into a new working folder.</summary>
    public static string SourceFileText(SourceType type, SeriesPolicy policy) => type switch
    {
        SourceType.Rdiff =>
            "# Written by btw-backup fs-init; see hocon/source.conf for every setting.\n" +
            "type = rdiff\n" +
            $"max-incremental-count = {policy.MaxIncrementalCount}\n" +
            $"max-incremental-span = {Durations.Format(policy.MaxIncrementalSpan)}\n",
        _ =>
            "# Written by btw-backup fs-init; see hocon/source.conf for every setting.\n" +
            "type = tar\n",
    };

    internal static SeriesPolicy ReadPolicy(HoconConfig config, string prefix, SeriesPolicy defaults, string path)
    {
        var count = defaults.MaxIncrementalCount;
        var countKey = prefix + "max-incremental-count";
        if (config.HasPath(countKey))
        {
            var text = Str(config, countKey, path);
            if (!int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out count) || count < 0)
                throw new ConfigException($"{path}: {countKey} must be a whole number of 0 or more, not '{text}'");
        }

        var span = Duration(config, prefix + "max-incremental-span", path) ?? defaults.MaxIncrementalSpan;
        return new SeriesPolicy(count, span);
    }

    private static SeriesPolicy ReadLegacyPolicy(ImmutableDictionary<string, PyValue> values, SeriesPolicy defaults, string path)
    {
        var count = defaults.MaxIncrementalCount;
        if (values.TryGetValue("MAX_INCREMENTAL_COUNT", out var c))
        {
            count = c is PyValue.Int { Value: >= 0 and <= int.MaxValue } n
                ? (int)n.Value
                : throw new ConfigException($"{path}: MAX_INCREMENTAL_COUNT must be a whole number of 0 or more");
        }

        var span = defaults.MaxIncrementalSpan;
        if (values.TryGetValue("MAX_INCREMENTAL_SPAN", out var s))
        {
            span = s switch
            {
                PyValue.Str str when Durations.TryParse(str.Value, out var d) => d,
                PyValue.Int i when i.Value >= 0 => TimeSpan.FromSeconds(i.Value),
                _ => throw new ConfigException($"{path}: MAX_INCREMENTAL_SPAN must be a duration such as \"24h\" or \"7d\""),
            };
        }

        return new SeriesPolicy(count, span);
    }

    private static TimeSpan? Duration(HoconConfig config, string key, string path)
    {
        var text = Str(config, key, path);
        if (text is null)
            return null;
        if (!Durations.TryParse(text, out var d) || d < TimeSpan.Zero)
            throw new ConfigException($"{path}: {key} must be a duration such as 0s, 90m, 24h or 7d, not '{text}'");
        return d;
    }

    /// <summary>The names of a block of named objects (<c>sources</c>, <c>destinations</c>), in order; none when it is absent or empty.</summary>
    internal static IEnumerable<string> BlockNames(HoconConfig config, string key, string path, string example)
    {
        if (!config.HasPath(key))
            return [];
        var value = config.GetValue(key);
        if (value is null || value.IsEmpty)
            return [];
        if (!value.IsObject())
            throw new ConfigException($"{path}: {key} must be an object: {example}");
        return value.GetObject().Items.Keys.Order(StringComparer.Ordinal).ToList();
    }

    internal static string? ReadString(HoconConfig config, string key, string path) => Str(config, key, path);

    private static string? Str(HoconConfig config, string key, string path)
    {
        if (!config.HasPath(key))
            return null;
        try
        {
            var value = config.GetValue(key);
            if (value is null || value.IsEmpty)
                return null;
            if (value.IsObject())
                throw new ConfigException($"{path}: {key} must be a value, not an object");
            var s = value.GetString();
            return s is null or "null" ? null : s;
        }
        catch (ConfigException)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new ConfigException($"{path}: {key}: {e.Message}");
        }
    }
}
