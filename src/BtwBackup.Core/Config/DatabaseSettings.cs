namespace BtwBackup.Config;

/// <summary>
/// How to reach PostgreSQL. Null parts fall back to the client's own defaults (PGHOST, PGPORT,
/// PGUSER, the Unix socket), as with the original. There is no password here on purpose:
/// passwords come from ~/.pgpass or PGPASSWORD, never from a command line.
/// </summary>
public sealed record PgConnection(string? Host, int? Port, string? User)
{
    public static readonly PgConnection Default = new(null, null, null);

    /// <summary>The client arguments; <c>-w</c> so that a missing password fails instead of waiting for a prompt under cron.</summary>
    public IEnumerable<string> Arguments()
    {
        yield return "-w";
        if (Host is not null)
        {
            yield return "-h";
            yield return Host;
        }

        if (Port is not null)
        {
            yield return "-p";
            yield return Port.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (User is not null)
        {
            yield return "-U";
            yield return User;
        }
    }
}

/// <summary>A database to back up (or, with <see cref="Database"/> null, the cluster's globals).</summary>
public sealed record DatabaseTarget(string? Database, PgConnection Connection, SeriesPolicy Policy)
{
    public const string GlobalName = "global";
    public const string GlobalFileName = "global.sql.bz2";

    /// <summary>The one file of the series' rdiff-backup repositories: DB.dump or global.sql.bz2.</summary>
    public string FileName => Database is null ? GlobalFileName : Database + ".dump";

    /// <summary>The name of its settings file under CONFIG_DIR/db/: DB or global.</summary>
    public string SettingsName => Database ?? GlobalName;
}
