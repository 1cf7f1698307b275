using BtwBackup.Config;
using CliWrap;

namespace BtwBackup.Tools;

/// <summary>pg_dump and pg_dumpall, with the connection settings as arguments (never a password).</summary>
public sealed class Postgres(IProcessRunner runner)
{
    public const string PgDump = "pg_dump";
    public const string PgDumpAll = "pg_dumpall";
    public const string PgRestore = "pg_restore";

    /// <summary><c>pg_dump -Fc DB</c> into <paramref name="outFile"/>.</summary>
    public async Task DumpAsync(string database, PgConnection connection, string outFile, CancellationToken ct)
    {
        var args = new List<string> { "-Fc" };
        args.AddRange(connection.Arguments());
        args.AddRange(["-f", outFile, "--", database]);
        await runner.RunCheckedAsync(new ProcessSpec(PgDump, args), ct);
    }

    /// <summary><c>pg_dumpall -g</c>, bzip2-compressed while it streams, into <paramref name="outFile"/>.</summary>
    public async Task DumpGlobalsAsync(PgConnection connection, string outFile, CancellationToken ct)
    {
        ProcessResult? compressed = null;
        var args = new List<string> { "-g" };
        args.AddRange(connection.Arguments());
        await runner.RunCheckedAsync(new ProcessSpec(PgDumpAll, args)
        {
            StdoutTarget = PipeTarget.Create(async (stream, token) =>
                compressed = await runner.RunAsync(Tools.Bzip2.Compress() with { StdinSource = PipeSource.FromStream(stream), StdoutFile = outFile }, token)),
        }, ct);
        if (compressed is not { Succeeded: true })
            throw new ToolFailedException(Tools.Bzip2.Program, compressed?.ExitCode ?? -1, compressed?.Stderr ?? "");
    }

    public const string Psql = "psql";
    public const string CreateDb = "createdb";

    /// <summary>Reads a whole custom-format dump (every table's data decompressed); throws when pg_restore cannot.</summary>
    public async Task CheckDumpAsync(string dumpFile, CancellationToken ct)
    {
        await runner.RunCheckedAsync(new ProcessSpec(PgRestore, ["-f", "/dev/null", dumpFile]), ct);
    }

    /// <summary>The number of user tables of a database, or null when the database does not exist.</summary>
    public async Task<int?> CountTablesAsync(string database, PgConnection connection, CancellationToken ct)
    {
        var args = new List<string>();
        args.AddRange(connection.Arguments());
        // psql does not interpolate variables in -c: the name goes in as an SQL literal, quotes doubled.
        args.AddRange(["-X", "-A", "-t", "-d", "postgres", "-c", $"select datname from pg_database where datname = '{database.Replace("'", "''", StringComparison.Ordinal)}'"]);
        var exists = await runner.RunCheckedAsync(new ProcessSpec(Psql, args), ct);
        if (exists.Stdout.Trim().Length == 0)
            return null;

        args = [.. connection.Arguments(), "-X", "-A", "-t", "-d", database, "-c",
            "select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')"];
        var count = await runner.RunCheckedAsync(new ProcessSpec(Psql, args), ct);
        return int.Parse(count.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task CreateDatabaseAsync(string database, PgConnection connection, CancellationToken ct)
    {
        await runner.RunCheckedAsync(new ProcessSpec(CreateDb, [.. connection.Arguments(), "--", database]), ct);
    }

    public async Task DropDatabaseAsync(string database, PgConnection connection, CancellationToken ct)
    {
        await runner.RunCheckedAsync(new ProcessSpec("dropdb", [.. connection.Arguments(), "--if-exists", "--", database]), ct);
    }

    public async Task RenameDatabaseAsync(string from, string to, PgConnection connection, CancellationToken ct)
    {
        static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        await runner.RunCheckedAsync(new ProcessSpec(Psql,
            [.. connection.Arguments(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", $"ALTER DATABASE {Quote(from)} RENAME TO {Quote(to)}"]), ct);
    }

    /// <summary>pg_restore into a database in one transaction that stops at the first error: the database gets all of the dump or none of it.</summary>
    public async Task RestoreAsync(string dumpFile, string database, PgConnection connection, CancellationToken ct)
    {
        var args = new List<string>(connection.Arguments()) { "--single-transaction", "--exit-on-error", "-d", database };
        args.Add(dumpFile);
        await runner.RunCheckedAsync(new ProcessSpec(PgRestore, args), ct);
    }

    /// <summary>The SQL of a custom-format dump, on stdout.</summary>
    public static ProcessSpec RestoreToSql(string dumpFile) => new(PgRestore, ["-f", "-", dumpFile]);
}
