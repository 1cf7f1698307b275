using System.Collections.Immutable;
using HoconConfig = Akka.Configuration.Config;

namespace BtwBackup.Config;

/// <summary>A source declared in btw-backup.conf's <c>sources</c> block.</summary>
public abstract record ConfiguredSource(string Name, string Dst)
{
    /// <summary>monitoring.healthchecks.url: this source's own check, pinged when its backup starts and ends.</summary>
    public Uri? Healthchecks { get; init; }
}

/// <summary>A file tree (type rdiff or tar) at an absolute path.</summary>
public sealed record TreeSource(string Name, string Dst, string Path, SourceType Type, SeriesPolicy Policy) : ConfiguredSource(Name, Dst);

/// <summary>A PostgreSQL database (type pg-dump) or the globals (type pg-globals).</summary>
public sealed record DatabaseSource(string Name, string Dst, DatabaseTarget Target) : ConfiguredSource(Name, Dst);

/// <summary>Reads and validates the <c>sources</c> block: every key known, every path of the right kind.</summary>
internal static class SourcesReader
{
    private static readonly ImmutableHashSet<string> PolicyKeys = ["max-incremental-count", "max-incremental-span", "retention"];
    private static readonly ImmutableHashSet<string> ConnectionKeys = ["host", "port", "user", "password"];

    public static ImmutableList<ConfiguredSource> Read(HoconConfig config, SeriesPolicy defaults, string path)
    {
        var result = ImmutableList.CreateBuilder<ConfiguredSource>();
        foreach (var name in ConfigLoader.BlockNames(config, "sources", path, "sources { NAME { type = ..., dst = ... } }"))
        {
            var where = $"{path}: sources.{name}";
            var source = config.GetConfig("sources." + QuoteKey(name));
            if (source?.Root is not { } block || !block.IsObject())
                throw new ConfigException($"{where} must be a block: {{ type = ..., dst = ... }}");
            var keys = block.GetObject().Items.Keys.ToImmutableHashSet();
            string Required(string key) => ConfigLoader.ReadString(source, key, path)
                ?? throw new ConfigException($"{where}: {key} is required");

            var type = Required("type");

            ImmutableHashSet<string> allowed = type switch
            {
                "rdiff" or "tar" => PolicyKeys.Union(["type", "dst", "path", "monitoring"]),
                "pg-dump" or "pg-globals" => PolicyKeys.Union(ConnectionKeys).Union(["type", "dst", "database", "monitoring"]),
                _ => throw new ConfigException($"{where}: unknown type '{type}' (rdiff, tar, pg-dump or pg-globals)"),
            };
            // Unknown keys first: a misspelt dst is a typo to name, not a missing dst.
            if (keys.Except(allowed).OrderBy(k => k, StringComparer.Ordinal).FirstOrDefault() is { } unknown)
                throw new ConfigException($"{where}: unknown setting '{unknown}' for a {type} source"
                    + (ConfigKeys.Nearest(unknown, allowed) is { } near ? $" (did you mean {near}?)" : ""));

            var dst = SeriesPath.Check(Required("dst"), $"{where}: dst");
            switch (type)
            {
                case "rdiff" or "tar":
                    var treePath = Required("path");
                    if (!System.IO.Path.IsPathRooted(treePath))
                        throw new ConfigException($"{where}: path must be absolute, not '{treePath}'");
                    result.Add(new TreeSource(name, dst, treePath, SourceTypes.Parse(type), ConfigLoader.ReadPolicy(source, "", defaults, path)));
                    break;
                default:
                    string? database = null;
                    if (type == "pg-dump")
                    {
                        database = Required("database");
                        if (database == DatabaseTarget.GlobalName)
                            throw new ConfigException($"{where}: the name 'global' cannot be used as a database name");
                    }

                    var connection = ConfigLoader.ReadConnection(source, "", $"{where}");
                    result.Add(new DatabaseSource(name, dst, new DatabaseTarget(database, connection, ConfigLoader.ReadPolicy(source, "", defaults, path))));
                    break;
            }

            if (keys.Contains("monitoring"))
                result[^1] = result[^1] with { Healthchecks = SourceHealthchecks(source, where, path) };
            if (type == "pg-globals" && keys.Contains("database"))
                throw new ConfigException($"{where}: a pg-globals source has no database");
        }

        var sources = result.ToImmutable();
        var duplicate = sources.OfType<DatabaseSource>().GroupBy(s => s.Target.SettingsName).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ConfigException($"{path}: sources {string.Join(" and ", duplicate.Select(s => s.Name))} back up the same {(duplicate.Key == DatabaseTarget.GlobalName ? "globals" : "database " + duplicate.Key)}");
        var sameTree = sources.OfType<TreeSource>().GroupBy(s => s.Path).FirstOrDefault(g => g.Count() > 1);
        if (sameTree is not null)
            throw new ConfigException($"{path}: sources {string.Join(" and ", sameTree.Select(s => s.Name))} back up the same path {sameTree.Key}");
        // A series is one source's: two sources in one folder would mix their backups (a tar
        // and an rdiff series side by side), one inside another would back up the other's.
        foreach (var a in sources)
        {
            foreach (var b in sources.Where(b => string.CompareOrdinal(a.Name, b.Name) < 0))
            {
                if (a.Dst == b.Dst)
                    throw new ConfigException($"{path}: sources {a.Name} and {b.Name} share the dst {a.Dst}: give each its own folder");
                var (outer, inner) = SeriesPath.Within(b.Dst, a.Dst) ? (a, b) : SeriesPath.Within(a.Dst, b.Dst) ? (b, a) : (null, null);
                if (outer is not null && inner is not null)
                    throw new ConfigException($"{path}: sources {outer.Name} and {inner.Name} nest: the dst of {inner.Name} ({inner.Dst}) is inside the dst of {outer.Name} ({outer.Dst}): give each its own folder, side by side");
            }
        }

        return sources;
    }

    /// <summary>A source's monitoring block: healthchecks.url and nothing else.</summary>
    private static Uri? SourceHealthchecks(HoconConfig source, string where, string path)
    {
        const string Form = "monitoring { healthchecks { url = \"https://...\" } }";
        var block = source.GetValue("monitoring");
        if (block is null || !block.IsObject() || block.GetObject().Items.Keys.Any(k => k != "healthchecks"))
            throw new ConfigException($"{where}.monitoring must be {Form}");
        var checks = source.GetValue("monitoring.healthchecks");
        if (checks is null || !checks.IsObject() || checks.GetObject().Items.Keys.Any(k => k != "url"))
            throw new ConfigException($"{where}.monitoring must be {Form}");
        return MonitoringSettings.ReadUrl(ConfigLoader.ReadString(source, "monitoring.healthchecks.url", path), $"{where}.monitoring.healthchecks.url");
    }

    internal static string QuoteKey(string key) =>
        key.All(c => char.IsLetterOrDigit(c) || c is '-' or '_') ? key : "\"" + key.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
