using Xunit;

namespace BtwBackup.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class PostgresAndS3Collection : ICollectionFixture<PostgresCluster>, ICollectionFixture<S3TestServer>
{
    public const string Name = "postgres+s3";
}

/// <summary>Database backups mirrored off-site: what the server holds is what root holds.</summary>
[Collection(PostgresAndS3Collection.Name)]
public sealed class DatabaseSyncTests(PostgresCluster pg, S3TestServer s3) : IDisposable
{
    private readonly Sandbox _box = new();

    public void Dispose() => _box.Dispose();

    [Fact]
    public async Task After_db_and_fs_backups_the_server_holds_exactly_what_root_holds()
    {
        var prefix = Path.GetFileName(_box.Dir) + "/";
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            destinations { offsite { uri = "s3://{{S3TestServer.Bucket}}/{{prefix}}", s3cmd-config = "{{s3.S3cmdConfig(_box.Dir)}}" } }
            """);
        _box.Environment = pg.ClientEnvironment;
        await pg.CreateDatabaseAsync("mirrored");
        await pg.PsqlAsync("mirrored", "create table t (id int); insert into t values (1);");
        var src = _box.MakeTree("www");
        await _box.InitAsync("rdiff", src, "www");

        foreach (var round in new[] { 2, 3 })
        {
            await _box.QuietOkAsync("db", "mirrored", "db/mirrored");
            await _box.QuietOkAsync("db", "-g", "db/global");
            await _box.QuietOkAsync("fs", src, "www");
            await pg.PsqlAsync("mirrored", $"insert into t values ({round})");
            File.WriteAllText(Path.Combine(src, "a.txt"), round.ToString());
        }

        var remote = await s3.DownloadAsync(prefix, _box.Dir);
        Assert.Equal(Sandbox.FileHashes(_box.Root), remote);
        Assert.Contains(remote.Keys, k => k.EndsWith("mirrored.dump", StringComparison.Ordinal));
        Assert.Equal("", (await _box.RunAsync("sync-state", "--list")).Stdout);
    }

    [Fact]
    public async Task The_sync_state_journal_can_live_in_postgresql()
    {
        await pg.CreateDatabaseAsync("btwjournal");
        var prefix = Path.GetFileName(_box.Dir) + "/";
        var user = (await Sandbox.ShellAsync("id", "-un")).Stdout.Trim();
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            destinations { offsite { uri = "s3://{{S3TestServer.Bucket}}/{{prefix}}", s3cmd-config = "{{s3.S3cmdConfig(_box.Dir)}}" } }
            sync.journal { provider = postgresql, connection-string = "Host={{pg.SocketDir}};Port={{pg.Port}};Database=btwjournal;Username={{user}}" }
            """);
        var src = _box.MakeTree("www");
        await _box.InitAsync("tar", src, "www");
        await _box.QuietOkAsync("fs", src, "www");

        Assert.False(File.Exists(Path.Combine(_box.ConfigDir, BtwBackup.Hosting.PersistenceConfig.FileName)));
        var history = (await _box.RunAsync("sync-state", "--history")).StdoutLines;
        Assert.Equal(2, history.Length);
        Assert.Matches(@" \+push www/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.tbz$", history[0]);
        Assert.Equal("2", (await pg.PsqlAsync("btwjournal", "select count(*) from journal")).Trim());
        Assert.Equal(Sandbox.FileHashes(_box.Root), await s3.DownloadAsync(prefix, _box.Dir));
    }
}
