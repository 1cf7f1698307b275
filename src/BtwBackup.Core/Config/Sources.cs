using System.Collections.Immutable;
using HoconConfig = Akka.Configuration.Config;

namespace BtwBackup.Config;

/// <summary>A source declared in btw-backup.conf's <c>sources</c> block.</summary>
public abstract record ConfiguredSource(string Name, string Dst);

/// <summary>A file tree (type rdiff or tar) at an absolute path.</summary>
public sealed record TreeSource(string Name, string Dst, string Path, SourceType Type, SeriesPolicy Policy) : ConfiguredSource(Name, Dst);

/// <summary>A PostgreSQL database (type pg-dump) or the globals (type pg-globals).</summary>
public sealed record DatabaseSource(string Name, string Dst, DatabaseTarget Target) : ConfiguredSource(Name, Dst);

/// <summary>Reads and validates the <c>sources</c> block: every key known, every path of the right kind.</summary>
internal static class SourcesReader
{
    private static readonly ImmutableHashSet<string> PolicyKeys = ["max-incremental-count", "max-incremental-span"];
    private static readonly ImmutableHashSet<string> ConnectionKeys = ["host", "port", "user", "password"];

    public static ImmutableList<ConfiguredSource> Read(HoconConfig config, SeriesPolicy defaults, string path)
    {
        var result = ImmutableList.CreateBuilder<ConfiguredSource>();
        foreach (var name in ConfigLoader.BlockNames(config, "sources", path, "sources { NAME { type = ..., dst = ... } }"))
        {
            var where = $"{path}: sources.{name}";
            var source = config.GetConfig("sources." + QuoteKey(name));
            var keys = source.Root.GetObject().Items.Keys.ToImmutableHashSet();
            string Required(string key) => ConfigLoader.ReadString(source, key, path)
                ?? throw new ConfigException($"{where}: {key} is required");

            var type = Required("type");
            var dst = Required("dst");
            if (dst.StartsWith('/') || dst.Split('/').Contains(".."))
                throw new ConfigException($"{where}: dst must be a path relative to root-path, not '{dst}'");

            ImmutableHashSet<string> allowed;
            switch (type)
            {
                case "rdiff" or "tar":
                    var treePath = Required("path");
                    if (!System.IO.Path.IsPathRooted(treePath))
                        throw new ConfigException($"{where}: path must be absolute, not '{treePath}'");
                    allowed = PolicyKeys.Union(["type", "dst", "path"]);
                    result.Add(new TreeSource(name, dst, treePath, SourceTypes.Parse(type), ConfigLoader.ReadPolicy(source, "", defaults, path)));
                    break;
                case "pg-dump" or "pg-globals":
                    string? database = null;
                    if (type == "pg-dump")
                    {
                        database = Required("database");
                        if (database == DatabaseTarget.GlobalName)
                            throw new ConfigException($"{where}: the name 'global' cannot be used as a database name");
                    }

                    allowed = PolicyKeys.Union(ConnectionKeys).Union(["type", "dst", "database"]);
                    var connection = ConfigLoader.ReadConnection(source, "", $"{where}");
                    result.Add(new DatabaseSource(name, dst, new DatabaseTarget(database, connection, ConfigLoader.ReadPolicy(source, "", defaults, path))));
                    break;
                default:
                    throw new ConfigException($"{where}: unknown type '{type}' (rdiff, tar, pg-dump or pg-globals)");
            }

            if (keys.Except(allowed).OrderBy(k => k, StringComparer.Ordinal).FirstOrDefault() is { } unknown)
                throw new ConfigException($"{where}: unknown setting '{unknown}' for a {type} source");
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
        return sources;
    }

    private static string QuoteKey(string key) =>
        key.All(c => char.IsLetterOrDigit(c) || c is '-' or '_') ? key : "\"" + key.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
