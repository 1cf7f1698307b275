using BtwBackup.Config;
using CliWrap;

namespace BtwBackup.Tools;

/// <summary>pg_dump and pg_dumpall, with the connection settings as arguments (never a password).</summary>
public sealed class Postgres(IProcessRunner runner)
{
    public const string PgDump = "pg_dump";
    public const string PgDumpAll = "pg_dumpall";
    public const string PgRestore = "pg_restore";
    public const string Bzip2 = "bzip2";

    /// <summary><c>pg_dump -Fc DB</c> into <paramref name="outFile"/>.</summary>
    public async Task DumpAsync(string database, PgConnection connection, string outFile, CancellationToken ct)
    {
        var args = new List<string> { "-Fc" };
        args.AddRange(connection.Arguments());
        args.AddRange(["-f", outFile, "--", database]);
        var result = await runner.RunAsync(new ProcessSpec(PgDump, args), ct);
        if (!result.Succeeded)
            throw new ToolFailedException(PgDump, result.ExitCode, result.Stderr);
    }

    /// <summary><c>pg_dumpall -g</c>, bzip2-compressed while it streams, into <paramref name="outFile"/>.</summary>
    public async Task DumpGlobalsAsync(PgConnection connection, string outFile, CancellationToken ct)
    {
        ProcessResult? compressed = null;
        var args = new List<string> { "-g" };
        args.AddRange(connection.Arguments());
        var dump = await runner.RunAsync(new ProcessSpec(PgDumpAll, args)
        {
            StdoutTarget = PipeTarget.Create(async (stream, token) =>
                compressed = await runner.RunAsync(new ProcessSpec(Bzip2, ["-c"]) { StdinSource = PipeSource.FromStream(stream), StdoutFile = outFile }, token)),
        }, ct);
        if (!dump.Succeeded)
            throw new ToolFailedException(PgDumpAll, dump.ExitCode, dump.Stderr);
        if (compressed is not { Succeeded: true })
            throw new ToolFailedException(Bzip2, compressed?.ExitCode ?? -1, compressed?.Stderr ?? "");
    }

    public const string Psql = "psql";
    public const string CreateDb = "createdb";

    /// <summary>Reads a whole custom-format dump (every table's data decompressed); throws when pg_restore cannot.</summary>
    public async Task CheckDumpAsync(string dumpFile, CancellationToken ct)
    {
        var result = await runner.RunAsync(new ProcessSpec(PgRestore, ["-f", "/dev/null", dumpFile]), ct);
        if (!result.Succeeded)
            throw new ToolFailedException(PgRestore, result.ExitCode, result.Stderr);
    }

    /// <summary>Checks every block of a bzip2 file.</summary>
    public async Task CheckBzip2Async(string file, CancellationToken ct)
    {
        var result = await runner.RunAsync(new ProcessSpec(Bzip2, ["-t", file]), ct);
        if (!result.Succeeded)
            throw new ToolFailedException(Bzip2, result.ExitCode, result.Stderr);
    }

    /// <summary>The number of user tables of a database, or null when the database does not exist.</summary>
    public async Task<int?> CountTablesAsync(string database, PgConnection connection, CancellationToken ct)
    {
        var args = new List<string>();
        args.AddRange(connection.Arguments());
        // psql does not interpolate variables in -c: the name goes in as an SQL literal, quotes doubled.
        args.AddRange(["-X", "-A", "-t", "-d", "postgres", "-c", $"select datname from pg_database where datname = '{database.Replace("'", "''", StringComparison.Ordinal)}'"]);
        var exists = await runner.RunAsync(new ProcessSpec(Psql, args), ct);
        if (!exists.Succeeded)
            throw new ToolFailedException(Psql, exists.ExitCode, exists.Stderr);
        if (exists.Stdout.Trim().Length == 0)
            return null;

        args = [.. connection.Arguments(), "-X", "-A", "-t", "-d", database, "-c",
            "select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')"];
        var count = await runner.RunAsync(new ProcessSpec(Psql, args), ct);
        if (!count.Succeeded)
            throw new ToolFailedException(Psql, count.ExitCode, count.Stderr);
        return int.Parse(count.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task CreateDatabaseAsync(string database, PgConnection connection, CancellationToken ct)
    {
        var result = await runner.RunAsync(new ProcessSpec(CreateDb, [.. connection.Arguments(), "--", database]), ct);
        if (!result.Succeeded)
            throw new ToolFailedException(CreateDb, result.ExitCode, result.Stderr);
    }

    public async Task DropDatabaseAsync(string database, PgConnection connection, CancellationToken ct)
    {
        var result = await runner.RunAsync(new ProcessSpec("dropdb", [.. connection.Arguments(), "--if-exists", "--", database]), ct);
        if (!result.Succeeded)
            throw new ToolFailedException("dropdb", result.ExitCode, result.Stderr);
    }

    public async Task RenameDatabaseAsync(string from, string to, PgConnection connection, CancellationToken ct)
    {
        static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        var result = await runner.RunAsync(new ProcessSpec(Psql,
            [.. connection.Arguments(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", $"ALTER DATABASE {Quote(from)} RENAME TO {Quote(to)}"]), ct);
        if (!result.Succeeded)
            throw new ToolFailedException(Psql, result.ExitCode, result.Stderr);
    }

    /// <summary>pg_restore into a database in one transaction that stops at the first error: the database gets all of the dump or none of it.</summary>
    public async Task RestoreAsync(string dumpFile, string database, PgConnection connection, CancellationToken ct)
    {
        var args = new List<string>(connection.Arguments()) { "--single-transaction", "--exit-on-error", "-d", database };
        args.Add(dumpFile);
        var result = await runner.RunAsync(new ProcessSpec(PgRestore, args), ct);
        if (!result.Succeeded)
            throw new ToolFailedException(PgRestore, result.ExitCode, result.Stderr);
    }

    /// <summary>The SQL of a custom-format dump, on stdout.</summary>
    public static ProcessSpec RestoreToSql(string dumpFile) => new(PgRestore, ["-f", "-", dumpFile]);

    /// <summary>A bzip2 file, decompressed on stdout.</summary>
    public static ProcessSpec Decompress(string bz2File) => new(Bzip2, ["-dc", bz2File]);
}
