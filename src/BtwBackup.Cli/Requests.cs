using BtwBackup.Config;
using BtwBackup.Platform;
using BtwBackup.Protocol;

namespace BtwBackup.Cli;

/// <summary>A usage error found after parsing (a value of the wrong form): usage line, exit 2.</summary>
public sealed class UsageException(string usage, string message) : Exception(message)
{
    public string Usage { get; } = usage;
}

/// <summary>A command ready for the Orchestrator, whether it writes (and so takes the lock), and whether it needs the destinations.</summary>
public sealed record Request(CliCommand Command, bool Writes, bool Syncs = false);

/// <summary>Turns parsed arguments into a command, with the original's checks and messages.</summary>
public static class Requests
{
    public static Request From(ParsedArgs args)
    {
        var dst = args.Find("dst") is { } given ? SeriesPath.Check(given) : null;

        return args.Command switch
        {
            "fs-init" => new Request(new InitFileTree(args.Get("src"), args.Get("name"), SourceTypes.Parse(args.Get("backup_type"))), Writes: false),
            "fs" => new Request(new BackupFileTree(args.Get("src"), dst!, Owner(args)), Writes: true, Syncs: true),
            "list" => new Request(new ListBackups(dst!, args.Flag("retention")), Writes: false),
            "db" => new Request(new BackupDatabase(Database(args), dst!, Owner(args)), Writes: true, Syncs: true),
            "sync" => new Request(new SyncNow(args.Flag("full"), args.Flag("allow_deletes")), Writes: true, Syncs: true),
            "sync-state" => new Request(SyncState(args), Writes: true, Syncs: true),
            "run" => new Request(new RunPass([.. args.All("SOURCE").Concat(WholeHost(args)).Distinct()], args.Flag("json")), Writes: true),
            "status" => new Request(Status(args), Writes: false),
            "restore" => new Request(Restore(args, dst!), Writes: false),
            "verify" => new Request(Verify(args), Writes: false),
            "prune" => new Request(new PruneSeries([.. args.All("DST").Select(d => SeriesPath.Check(d)).Distinct()], args.Flag("dry_run"), args.Flag("json")),
                Writes: !args.Flag("dry_run")),
            _ => throw new InvalidOperationException("no request for the command " + args.Command),
        };
    }

    /// <summary>The database to dump, or null for the globals, with the original's checks.</summary>
    private static string? Database(ParsedArgs args)
    {
        var db = args.Find("db");
        var global = args.Flag("g");
        if (global && db is not null)
            throw new ConfigException("-g (--global) cannot be used with a database name");
        if (!global && db is null)
            throw new ConfigException("either -g (--global) or a database name must be specified");
        if (db == DatabaseTarget.GlobalName)
            throw new ConfigException("the name 'global' cannot be used as a database name: either modify this software or rename your database");
        if (db is not null && (db.Length == 0 || db.Contains('/') || db.StartsWith('.')))
            throw new ConfigException($"not a database name btw-backup can keep settings for: '{db}'");
        return db;
    }

    private static ShowStatus Status(ParsedArgs args)
    {
        var since = Since(args);
        var name = args.Find("SOURCE");
        if (name is not null && !args.Flag("history"))
            throw Usage(args, "argument SOURCE: only with --history (status shows every source)");
        return new ShowStatus(args.Flag("json")) { History = args.Flag("history"), Name = name, Since = since };
    }

    /// <summary>--since TIME, only with --history.</summary>
    private static DateTime? Since(ParsedArgs args)
    {
        var since = args.Find("since");
        if (since is null)
            return null;
        if (!args.Flag("history"))
            throw Usage(args, "argument --since: only with --history");
        return DateTime.TryParse(since, System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal, out var t)
            ? t
            : throw Usage(args, $"argument --since: not a time: '{Shown(since)}' (2016-01-01 or 2016-01-01T12:00:00)");
    }

    private static InspectSyncState SyncState(ParsedArgs args)
    {
        var time = Since(args);

        var action = args.Flag("list") ? SyncStateAction.List : args.Flag("reset") ? SyncStateAction.Reset : SyncStateAction.History;
        var host = args.Find("host");
        if (host is not null && action == SyncStateAction.Reset)
            throw Usage(args, "argument --host: only with --list or --history (a host's state is reset on that host)");
        if (host is not null && !ClusterSettings.IsHostName(host))
            throw Usage(args, $"argument --host: not a host name: '{Shown(host)}'");
        return new InspectSyncState(action, time, host);
    }

    private static RestoreBackup Restore(ParsedArgs args, string dst)
    {
        var target = args.Find("target");
        var database = args.Find("database");
        if (target is null && database is null)
            throw Usage(args, "a TARGET folder is required, or --database NAME for a database series");
        if (target is not null && database is not null)
            throw Usage(args, "argument --database: not allowed with a TARGET");
        if (target is "")
            throw Usage(args, "TARGET: an empty path names no folder");
        if (database is not null && (database.Length == 0 || database == DatabaseTarget.GlobalName))
            throw Usage(args, $"argument --database: not a database name: '{database}'");
        // The daemon may run elsewhere than the caller's working directory: the target goes absolute.
        var identity = args.Find("identity");
        if (identity is not null && args.Find("from") is null)
            throw Usage(args, "argument --identity: only with --from (what root holds is not encrypted)");
        if (identity is "")
            throw Usage(args, "argument --identity: an empty path names no file");
        return new RestoreBackup(dst, target is null ? null : Path.GetFullPath(target), args.Find("at"), args.Find("from"), database, args.Flag("force"))
        {
            Identity = identity is null ? null : Path.GetFullPath(identity),
        };
    }

    private static VerifyBackups Verify(ParsedArgs args)
    {
        var dsts = args.All("DST").Select(d => SeriesPath.Check(d));
        var identity = args.Find("identity");
        if (identity is not null && !args.Flag("deep"))
            throw Usage(args, "argument --identity: only with --deep (without it, verify needs no key)");
        return new VerifyBackups([.. dsts.Distinct()], args.Flag("json"))
        {
            Deep = args.Flag("deep"),
            Identity = identity is null ? null : Path.GetFullPath(identity),
        };
    }

    /// <summary><c>run --host H</c>: "H:", every source of host H in a cluster pass.</summary>
    private static IEnumerable<string> WholeHost(ParsedArgs args)
    {
        if (args.Find("host") is not { } host)
            return [];
        if (host.Length == 0 || host.Any(c => c == ':' || char.IsWhiteSpace(c) || char.IsControl(c)))
            throw Usage(args, $"argument --host: not a host name: '{Shown(host)}'");
        return [host + ":"];
    }

    /// <summary>A value from the command line as an error quotes it: at most 80 characters.</summary>
    private static string Shown(string value) => value.Length > 80 ? value[..80] + "..." : value;

    private static UsageException Usage(ParsedArgs args, string message) =>
        new(CommandLine.Parser().CommandUsage(CommandLine.Commands.First(c => c.Name == args.Command)), message);

    private static Ownership? Owner(ParsedArgs args)
    {
        if (args.Find("uid") is not { } spec)
            return null;
        return Posix.ParseOwnership(spec, out var error) ?? throw Usage(args, $"argument -u/--uid: {error}");
    }
}
