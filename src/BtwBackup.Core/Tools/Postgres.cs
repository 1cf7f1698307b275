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

    /// <summary>The SQL of a custom-format dump, on stdout.</summary>
    public static ProcessSpec RestoreToSql(string dumpFile) => new(PgRestore, ["-f", "-", dumpFile]);

    /// <summary>A bzip2 file, decompressed on stdout.</summary>
    public static ProcessSpec Decompress(string bz2File) => new(Bzip2, ["-dc", bz2File]);
}
