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

    private static readonly Lazy<GeneralSettings> BuiltinSettings = new(() =>
        FromHocon("/", ConfigurationFactory.ParseString("root-path = \"/\"").WithFallback(Reference), "the embedded reference"));

    /// <summary>
    /// The settings of a btw-backup.conf that sets nothing: read from the embedded reference,
    /// the one place where defaults are written (<see cref="SeriesPolicy.Default"/>,
    /// <see cref="SyncSettings.Default"/>, <see cref="DaemonSettings.Default"/> come from here).
    /// </summary>
    public static GeneralSettings Builtin => BuiltinSettings.Value;

    /// <summary>A key every file falls back to in the reference: missing there is a bug of the build, not of the user.</summary>
    private static InvalidOperationException NotInReference(string key) => new($"the embedded reference hocon/btw-backup.conf has no value for {key}");

    /// <summary>A policy no reference gives: <see cref="FromHocon"/> reads defaults.* with it, and finds both keys in the reference.</summary>
    private static readonly SeriesPolicy NoPolicy = new(-1, TimeSpan.MinValue);

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
        if (File.Exists(hoconPath) || Directory.Exists(hoconPath))
        {
            return Trusted(hoconPath, () =>
            {
                var doc = ReadHocon(hoconPath);
                ConfigKeys.CheckGeneral(doc, Reference);
                return doc.Lined(() => FromHocon(configDir, doc.Config.WithFallback(Reference), hoconPath));
            });
        }

        var legacyPath = Path.Combine(configDir, LegacyGeneralFileName);
        if (File.Exists(legacyPath))
            return FromLegacy(configDir, LegacyPyFile.Load(legacyPath), legacyPath);

        throw new ConfigException(
            $"no general configuration in {configDir}: create {hoconPath} with at least root-path = \"/path/to/backups\"");
    }

    public static HoconConfig ParseHoconFile(string path) => ReadHocon(path).Config;

    /// <summary>A HOCON file, parsed and checked (see <see cref="ParseDocument"/>), with the line of each key.</summary>
    public static HoconDocument ReadHocon(string path)
    {
        string text;
        try
        {
            if (Directory.Exists(path))
                throw new IOException("it is a directory");
            text = ReadBounded(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"cannot read {path}: {ConfigException.Reason(e)}");
        }

        return ParseDocument(text, path);
    }

    public static HoconConfig ParseHocon(string text, string path) => ParseDocument(text, path).Config;

    /// <summary>
    /// A configuration file's text, read up to <see cref="HoconSyntax.MaxLength"/> characters
    /// and refused past them: whatever the file is (a device such as /dev/zero, a growing log),
    /// reading it never takes more than that. IO errors are the caller's to word.
    /// </summary>
    internal static string ReadBounded(string path)
    {
        using var reader = new StreamReader(path, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        var buffer = new char[HoconSyntax.MaxLength + 1];
        var read = 0;
        int n;
        while (read < buffer.Length && (n = reader.Read(buffer, read, buffer.Length - read)) > 0)
            read += n;
        if (read > HoconSyntax.MaxLength)
            throw new ConfigException($"{path}: larger than {HoconSyntax.MaxLength / 1024} KiB; a btw-backup configuration is a few lines");
        return new string(buffer, 0, read);
    }

    /// <summary><see cref="ReadBounded"/> as lines, as File.ReadAllLines gives them.</summary>
    internal static string[] ReadBoundedLines(string path)
    {
        var lines = ReadBounded(path).ReplaceLineEndings("\n").Split('\n');
        return lines.Length > 0 && lines[^1].Length == 0 ? lines[..^1] : lines;
    }

    /// <summary>
    /// How long Akka's parser may take on one file. A few milliseconds are the rule; the
    /// syntax check refuses the inputs known to make it loop, and this is the second line of
    /// defence: past it the file is refused (the parser's thread is left behind, and the
    /// process, which cannot go on without its configuration, exits).
    /// </summary>
    public static readonly TimeSpan ParseDeadline = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Parses HOCON text, bounded in size and time: the syntax check first (one line naming the
    /// line of the problem), then Akka's parser under <see cref="ParseDeadline"/>.
    /// </summary>
    public static HoconDocument ParseDocument(string text, string path) =>
        ParseDocument(text, path, ConfigurationFactory.ParseString, ParseDeadline);

    /// <summary><see cref="ParseDocument(string, string)"/> with the parser and its deadline given (tests).</summary>
    internal static HoconDocument ParseDocument(string text, string path, Func<string, HoconConfig> parser, TimeSpan deadline)
    {
        var scan = HoconSyntax.Run(text);
        if (scan.Problem is { } problem)
            throw new ConfigException($"{path}:{problem.Line}: malformed HOCON: {problem.Message}");
        var parse = Task.Factory.StartNew(() => parser(text), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            if (!parse.Wait(deadline))
                throw new ConfigException($"{path}: malformed HOCON: not parsed within {deadline.TotalSeconds:0.#} s; keep to plain keys, values and blocks");
            return new HoconDocument(parse.Result, path, scan.KeyLines);
        }
        catch (AggregateException e) when (e.InnerException is { } inner and not ConfigException)
        {
            throw ParserError(text, path, inner.Message);
        }
    }

    /// <summary>
    /// Akka's parser message as one line: its first line, without the echo of the text and
    /// the caret under it, and with the line of the file when it gives a position.
    /// </summary>
    internal static ConfigException ParserError(string text, string path, string message)
    {
        var first = message.Split('\n', 2)[0].Trim();
        var at = System.Text.RegularExpressions.Regex.Match(first, @"\s*at position (\d+)\s*:?.*$");
        var where = path;
        if (at.Success && int.TryParse(at.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, out var position))
        {
            first = first[..at.Index];
            where = $"{path}:{text.AsSpan(0, Math.Clamp(position, 0, text.Length)).Count('\n') + 1}";
        }

        if (first.Length == 0)
            first = "the parser refused the text";
        if (first.Length > 160)
            first = first[..160] + "...";
        return new ConfigException($"{where}: malformed HOCON: {first.TrimEnd(':', ' ', '.')} (write plain keys, values and blocks; see hocon/btw-backup.conf)");
    }

    /// <summary>
    /// Reads a file's settings so that every refusal names the file: a <see cref="ConfigException"/>
    /// that does not gets it in front; any other failure (a value of a form the reader did not
    /// expect) becomes one line about the file, never the runtime's own text.
    /// </summary>
    private static T Trusted<T>(string path, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (ConfigException e) when (!e.Message.Contains(path, StringComparison.Ordinal))
        {
            throw new ConfigException($"{path}: {e.Message}");
        }
        catch (Exception e) when (e is not ConfigException and not OutOfMemoryException)
        {
            throw new ConfigException($"{path}: {WrongForm}");
        }
    }

    /// <summary>The last resort of <see cref="Trusted"/>; the fuzz test counts how often it is reached (never, ideally).</summary>
    public const string WrongForm = "a setting has a value of a form btw-backup does not read; compare the file with the annotated reference, hocon/btw-backup.conf";

    internal static GeneralSettings FromHocon(string configDir, HoconConfig config, string path)
    {
        var root = Str(config, "root-path", path)
            ?? throw new ConfigException("you must specify root-path in the general configuration");
        var logFile = Str(config, "log-file", path) ?? throw NotInReference("log-file");
        var level = (Str(config, "log-level", path) ?? throw NotInReference("log-level")).ToUpperInvariant();
        if (level is not ("DEBUG" or "INFO" or "WARNING" or "ERROR"))
            throw new ConfigException($"{path}: log-level must be DEBUG, INFO, WARNING or ERROR, not '{level}'");
        var defaults = ReadPolicy(config, "defaults.", NoPolicy, path);
        if (defaults.MaxIncrementalCount == NoPolicy.MaxIncrementalCount || defaults.MaxIncrementalSpan == NoPolicy.MaxIncrementalSpan)
            throw NotInReference("defaults.max-incremental-*");
        var settings = new GeneralSettings(
            configDir,
            ValidateRoot(root),
            defaults,
            Path.Combine(configDir, logFile),
            level,
            Duration(config, "lock-timeout", path, TimeSpan.FromDays(7)) ?? throw NotInReference("lock-timeout"),
            path)
        {
            Sources = SourcesReader.Read(config, defaults, path),
            Destinations = DestinationsReader.Read(config, path),
            Sync = new SyncSettings(
                Int(config, "sync.parallelism", path, min: 1, max: 256) ?? throw NotInReference("sync.parallelism"),
                Duration(config, "sync.history-window", path, MaxSpan) ?? throw NotInReference("sync.history-window"),
                Int(config, "sync.snapshot-every", path, min: 1, max: 1_000_000) ?? throw NotInReference("sync.snapshot-every"))
            {
                PostgresJournal = Journal(config, path),
                MaxDelete = Int(config, "sync.max-delete", path, min: 0, max: 100_000_000) ?? throw NotInReference("sync.max-delete"),
            },
            Daemon = ReadDaemon(config, path, configDir),
            Cluster = ClusterSettings.Read(path, configDir, key => Str(config, key, path), key => Int(config, key, path, min: 1, max: 65535)),
            PassParallelism = Int(config, "run.parallelism", path, min: 1, max: 256) ?? throw NotInReference("run.parallelism"),
            RetentionZone = ReadZone(config, path),
            PruneAfterPass = Flag(config, "retention.after-pass", path) ?? throw NotInReference("retention.after-pass"),
            Http = ReadHttp(config, path),
        };
        return settings with { Monitoring = ReadMonitoring(config, path, settings.Sources) };
    }

    /// <summary>A switch: on/off, true/false or yes/no (HOCON's booleans); null when unset.</summary>
    private static bool? Flag(HoconConfig config, string key, string path) => Str(config, key, path) switch
    {
        null => null,
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        var text => throw new ConfigException($"{path}: {key} must be on or off, not '{text}'"),
    };

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

    private static MonitoringSettings ReadMonitoring(HoconConfig config, string path, ImmutableList<ConfiguredSource> sources) => new(
        MonitoringSettings.ReadUrl(Str(config, "monitoring.healthchecks.url", path), $"{path}: monitoring.healthchecks.url"),
        MonitoringSettings.ReadUrl(Str(config, "monitoring.webhook.url", path), $"{path}: monitoring.webhook.url"),
        Duration(config, "monitoring.timeout", path, TimeSpan.FromMinutes(5)) ?? throw NotInReference("monitoring.timeout"),
        Int(config, "monitoring.retries", path, min: 0, max: 10) ?? throw NotInReference("monitoring.retries"))
    {
        Sources = sources.Where(s => s.Healthchecks is not null).ToImmutableSortedDictionary(s => s.Name, s => s.Healthchecks!, StringComparer.Ordinal),
    };

    /// <summary>http: the daemon's web server (page and /metrics), off at port 0, and on loopback only: its login form is plain HTTP.</summary>
    private static HttpSettings? ReadHttp(HoconConfig config, string path)
    {
        var port = Int(config, "http.port", path, min: 0, max: 65535) ?? throw NotInReference("http.port");
        var hostname = Str(config, "http.hostname", path) ?? throw NotInReference("http.hostname");
        if (port == 0)
            return null;
        if (!System.Net.IPAddress.TryParse(hostname, out var address) || !System.Net.IPAddress.IsLoopback(address))
            throw new ConfigException($"{path}: http.hostname must be a loopback address (127.0.0.1 or ::1), not '{hostname}': the page's login travels "
                + "in plain HTTP; reach it from elsewhere through an SSH tunnel or a TLS reverse proxy");
        return new HttpSettings(address, port);
    }

    private static DaemonSettings ReadDaemon(HoconConfig config, string path, string configDir)
    {
        var certificate = Str(config, "daemon.tls.certificate", path);
        var key = Str(config, "daemon.tls.key", path);
        if ((certificate is null) != (key is null))
            throw new ConfigException($"{path}: daemon.tls needs both certificate and key (PEM files), or neither");
        var tls = certificate is null ? null : new Daemon.TlsSettings(Path.Combine(configDir, certificate), Path.Combine(configDir, key!));
        var hostname = Str(config, "daemon.hostname", path) ?? throw NotInReference("daemon.hostname");
        var portText = Str(config, "daemon.port", path) ?? throw NotInReference("daemon.port");
        if (!(int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535))
            throw new ConfigException($"{path}: daemon.port must be a TCP port (1 to 65535), not '{portText}'");
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

    private static int? Int(HoconConfig config, string key, string path, int min, int max)
    {
        var text = Str(config, key, path);
        if (text is null)
            return null;
        return int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new ConfigException($"{path}: {key} must be a whole number from {min} to {max}, not '{text}'");
    }

    /// <summary>The longest series span or history kept: ten years. Beyond it a value is a typo, not a policy.</summary>
    public static readonly TimeSpan MaxSpan = TimeSpan.FromDays(3650);

    private static string ValidateRoot(string root)
    {
        if (!Path.IsPathRooted(root))
            throw new ConfigException($"the root path must be absolute: {root}");
        if (root.Any(char.IsControl))
            throw new ConfigException("the root path cannot hold control characters (a line break, NUL...)");
        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
    }

    /// <summary>The keys of source.conf (hocon/source.conf).</summary>
    public static readonly IReadOnlyCollection<string> SourceFileKeys = ["type", "max-incremental-count", "max-incremental-span"];

    /// <summary>The keys of db/NAME.conf (hocon/database.conf); password only to be refused with its own message.</summary>
    public static readonly IReadOnlyCollection<string> DatabaseFileKeys = ["max-incremental-count", "max-incremental-span", "retention", "host", "port", "user", "password"];

    /// <summary>Reads a working folder's type and policy (source.conf, else the original's config.py).</summary>
    public static (SourceType Type, SeriesPolicy Policy) LoadSource(string workingDir, SeriesPolicy defaults)
    {
        var hoconPath = Path.Combine(workingDir, SourceFileName);
        if (File.Exists(hoconPath) || Directory.Exists(hoconPath))
        {
            return Trusted(hoconPath, () =>
            {
                var doc = ReadHocon(hoconPath);
                ConfigKeys.CheckFlat(doc, SourceFileKeys);
                return doc.Lined(() => (SourceTypes.Parse(Str(doc.Config, "type", hoconPath)), ReadPolicy(doc.Config, "", defaults, hoconPath)));
            });
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
        if (File.Exists(hoconPath) || Directory.Exists(hoconPath))
        {
            return Trusted(hoconPath, () =>
            {
                var doc = ReadHocon(hoconPath);
                ConfigKeys.CheckFlat(doc, DatabaseFileKeys, blocks: ["retention"]);
                return doc.Lined(() => new DatabaseTarget(database, ReadConnection(doc.Config, "", hoconPath), ReadPolicy(doc.Config, "", defaults, hoconPath)));
            });
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

        var span = Duration(config, prefix + "max-incremental-span", path, MaxSpan) ?? defaults.MaxIncrementalSpan;
        return new SeriesPolicy(count, span) { Retention = ReadRetention(config, prefix + "retention", path) ?? defaults.Retention };
    }

    /// <summary>The keys of a retention block.</summary>
    internal static readonly ImmutableArray<string> RetentionKeys =
        ["keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly", "keep-within"];

    /// <summary>A retention block (<paramref name="key"/>), or null when it sets no rule (the level above applies).</summary>
    private static Retention.RetentionPolicy? ReadRetention(HoconConfig config, string key, string path)
    {
        if (!config.HasPath(key))
            return null;
        var block = config.GetConfig(key);
        if (block?.Root is not { } root || !root.IsObject())
            throw new ConfigException($"{path}: {key} must be a block {{ keep-daily = 7, ... }}");
        foreach (var name in root.GetObject().Items.Keys.Order(StringComparer.Ordinal))
        {
            if (!RetentionKeys.Contains(name))
                throw new ConfigException($"{path}: {key}: {ConfigKeys.UnknownMessage(name, RetentionKeys)}");
        }

        int? Count(string name) => Int(config, $"{key}.{name}", path, min: 0, max: 1_000_000);
        var within = Duration(config, key + ".keep-within", path, MaxSpan * 10);
        var counts = RetentionKeys.Take(6).Select(Count).ToArray();
        if (counts.All(c => c is null) && within is null)
            return null;
        return new Retention.RetentionPolicy(counts[0] ?? 0, counts[1] ?? 0, counts[2] ?? 0, counts[3] ?? 0, counts[4] ?? 0, counts[5] ?? 0, within)
            .Validated($"{path}: {key}");
    }

    /// <summary>retention.timezone: an IANA zone name (Europe/Berlin), or the machine's zone.</summary>
    private static TimeZoneInfo ReadZone(HoconConfig config, string path)
    {
        if (Str(config, "retention.timezone", path) is not { } name)
            return TimeZoneInfo.Local;
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(name);
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new ConfigException($"{path}: retention.timezone '{name}' is not a time zone this machine knows (a name such as Europe/Berlin or UTC)");
        }
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
                PyValue.Str str when Durations.TryParse(str.Value, out var d) && d <= MaxSpan => d,
                PyValue.Int i when i.Value >= 0 && i.Value <= MaxSpan.TotalSeconds => TimeSpan.FromSeconds(i.Value),
                _ => throw new ConfigException($"{path}: MAX_INCREMENTAL_SPAN must be a duration such as \"24h\" or \"7d\""),
            };
        }

        return new SeriesPolicy(count, span);
    }

    private static TimeSpan? Duration(HoconConfig config, string key, string path, TimeSpan max)
    {
        var text = Str(config, key, path);
        if (text is null)
            return null;
        if (!Durations.TryParse(text, out var d) || d < TimeSpan.Zero)
            throw new ConfigException($"{path}: {key} must be a duration such as 0s, 90m, 24h or 7d, not '{text}'");
        if (d > max)
            throw new ConfigException($"{path}: {key} must be at most {Durations.Format(max)}, not '{text}'");
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
            if (s is not null && s.Any(c => char.IsControl(c) && c != '\t'))
                throw new ConfigException($"{path}: {key} cannot hold control characters (a line break, NUL...)");
            return s is null or "null" ? null : s;
        }
        catch (ConfigException)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ConfigException($"{path}: {key} must be a single value (text, a number or a duration)");
        }
    }
}
