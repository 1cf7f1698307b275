using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>
/// A private PostgreSQL cluster for the tests: initdb in a temp folder, a free port, a Unix
/// socket in that folder, started once for the test collection and removed after. As root it
/// runs as the postgres user (initdb refuses root) and makes root a superuser.
/// </summary>
public sealed class PostgresCluster : IAsyncLifetime
{
    public string SocketDir { get; private set; } = "";

    public int Port { get; private set; }

    private string _bin = "";

    private bool AsRoot => Environment.UserName == "root";

    public async Task InitializeAsync()
    {
        _bin = Directory.GetDirectories("/usr/lib/postgresql").OrderBy(d => int.Parse(Path.GetFileName(d))).Select(d => Path.Combine(d, "bin")).LastOrDefault()
            ?? throw new InvalidOperationException("PostgreSQL is not installed: ./run.sh install-deps");
        SocketDir = Path.Combine(Path.GetTempPath(), "btw-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(SocketDir);
        if (AsRoot)
            await Must("chown", "postgres", SocketDir);
        Port = Sandbox.FreePort();
        await AsServerUser(Path.Combine(_bin, "initdb"), "-D", DataDir, "-A", "trust", "--no-sync", "-U", "postgres");
        await AsServerUser(Path.Combine(_bin, "pg_ctl"), "-D", DataDir, "-l", Path.Combine(SocketDir, "server.log"), "-w",
            "-o", $"-p {Port} -k {SocketDir} -c listen_addresses='' -c fsync=off", "start");
        await Must("createuser", "-h", SocketDir, "-p", Port.ToString(), "-U", "postgres", "-s", Environment.UserName);
    }

    private string DataDir => Path.Combine(SocketDir, "data");

    /// <summary>The environment that points the PostgreSQL clients (and so btw-backup) at this cluster.</summary>
    public IReadOnlyDictionary<string, string?> ClientEnvironment => new Dictionary<string, string?>
    {
        ["PGHOST"] = SocketDir,
        ["PGPORT"] = Port.ToString(),
        ["PGUSER"] = null,
        ["PGDATABASE"] = null,
    };

    public async Task<string> PsqlAsync(string database, string sql)
    {
        var r = await Sandbox.ShellAsync("psql", "-h", SocketDir, "-p", Port.ToString(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", database, "-c", sql);
        if (r.ExitCode != 0)
            throw new InvalidOperationException("psql failed: " + r);
        return r.Stdout;
    }

    public async Task CreateDatabaseAsync(string name) =>
        await Must("createdb", "-h", SocketDir, "-p", Port.ToString(), name);

    public async Task<RunResult> ClientAsync(string program, params string[] args) =>
        await Sandbox.ShellAsync(program, new[] { "-h", SocketDir, "-p", Port.ToString() }.Concat(args).ToArray());

    public async Task DisposeAsync()
    {
        await AsServerUser(Path.Combine(_bin, "pg_ctl"), "-D", DataDir, "-m", "immediate", "-w", "stop");
        Directory.Delete(SocketDir, recursive: true);
    }

    private async Task AsServerUser(string program, params string[] args)
    {
        if (AsRoot)
            await Must("runuser", new[] { "-u", "postgres", "--", program }.Concat(args).ToArray());
        else
            await Must(program, args);
    }

    private static async Task Must(string program, params string[] args)
    {
        var r = await Sandbox.ShellAsync(program, args);
        if (r.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed: {r}");
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresCluster>
{
    public const string Name = "postgres";
}
