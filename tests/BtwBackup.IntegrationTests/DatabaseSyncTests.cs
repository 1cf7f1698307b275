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

    /// <summary>A configuration with one destination and its sync journal in a new PostgreSQL database; the destination's prefix.</summary>
    private async Task<string> ConfigureWithJournalInAsync(string database)
    {
        await pg.CreateDatabaseAsync(database);
        var prefix = Path.GetFileName(_box.Dir) + "/";
        var user = (await Sandbox.ShellAsync("id", "-un")).Stdout.Trim();
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            destinations { offsite { uri = "s3://{{S3TestServer.Bucket}}/{{prefix}}", s3cmd-config = "{{s3.S3cmdConfig(_box.Dir)}}" } }
            sync.journal { provider = postgresql, connection-string = "Host={{pg.SocketDir}};Port={{pg.Port}};Database={{database}};Username={{user}}" }
            """);
        return prefix;
    }

    [Fact]
    public async Task The_sync_state_journal_can_live_in_postgresql()
    {
        var prefix = await ConfigureWithJournalInAsync("btwjournal");
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

    [Fact]
    public async Task A_sync_whose_journal_fails_mid_run_ends_with_one_line_and_the_next_sync_finishes_the_work()
    {
        var prefix = await ConfigureWithJournalInAsync("btwjournalfails");
        var bulk = Directory.CreateDirectory(Path.Combine(_box.Root, "bulk")).FullName;
        for (var i = 0; i < 400; i++)
            File.WriteAllBytes(Path.Combine(bulk, $"f{i:D3}"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(50_000));
        Assert.Equal(0, (await _box.RunAsync("sync-state", "--list")).ExitCode);
        var stored = Path.Combine(s3.Directory, S3TestServer.Bucket, prefix.TrimEnd('/'));

        // The journal goes away while the objects are uploaded: the run cannot record its end.
        var sync = _box.RunAsync("sync", "--full");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !sync.IsCompleted &&
               !(Directory.Exists(stored) && Directory.EnumerateFiles(stored, "*", SearchOption.AllDirectories).Any()))
            await Task.Delay(20);
        Assert.False(sync.IsCompleted, "the sync ended before its journal could fail");
        await pg.PsqlAsync("btwjournalfails", "alter table journal rename to journal_away");

        var failed = await sync.WaitAsync(TimeSpan.FromSeconds(90));
        Assert.Equal(1, failed.ExitCode);
        Assert.StartsWith("btw-backup: offsite did not sync: stopped before it answered (most often its sync journal failed: see the log)", failed.Stderr, StringComparison.Ordinal);

        await pg.PsqlAsync("btwjournalfails", "alter table journal_away rename to journal");
        Assert.Equal("Must sync: .\n", (await _box.RunAsync("sync-state", "--list")).Stdout);
        await _box.QuietOkAsync("sync");
        Assert.Equal("", (await _box.RunAsync("sync-state", "--list")).Stdout);
        Assert.Equal(Sandbox.FileHashes(_box.Root), await s3.DownloadAsync(prefix, _box.Dir));
    }

    /// <summary>
    /// The writer lock on a real PostgreSQL: a second taker is refused with the holder's name, a
    /// lock is free again once its holder lets go, and a holder whose session the server ended
    /// learns it at its next check.
    /// </summary>
    [Fact]
    public async Task A_sync_state_has_one_writer_at_a_time_and_a_lost_session_is_found()
    {
        await pg.CreateDatabaseAsync("btwlocks");
        var user = (await Sandbox.ShellAsync("id", "-un")).Stdout.Trim();
        var connection = $"Host={pg.SocketDir};Port={pg.Port};Database=btwlocks;Username={user}";
        var one = new BtwBackup.Sync.PostgresWriterLocks(connection, "btw-backup host db1 pid 1 on one");
        var two = new BtwBackup.Sync.PostgresWriterLocks(connection, "btw-backup host db1 pid 2 on two");

        var held = await one.AcquireAsync("sync/db1/offsite", CancellationToken.None);
        var refused = await Assert.ThrowsAsync<BtwBackup.Sync.WriterLockRefusedException>(() => two.AcquireAsync("sync/db1/offsite", CancellationToken.None));
        Assert.Matches(@"^sync/db1/offsite is written by another process \(btw-backup host db1 pid 1 on one from the local socket, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\): ", refused.Message);
        // Another id is another lock.
        await using (await two.AcquireAsync("sync/db2/offsite", CancellationToken.None))
        {
        }

        await held.DisposeAsync();
        var taken = await two.AcquireAsync("sync/db1/offsite", CancellationToken.None);
        await taken.CheckAsync(CancellationToken.None);

        // The server ends the holder's session (a restart, a network cut, an administrator): the lock is gone, and its holder is told.
        Assert.Equal("t", (await pg.PsqlAsync("btwlocks", "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'btw-backup host db1 pid 2 on two'")).Trim());
        await Assert.ThrowsAnyAsync<Exception>(() => taken.CheckAsync(CancellationToken.None));
        await using var again = await one.AcquireAsync("sync/db1/offsite", CancellationToken.None);
        await taken.DisposeAsync();
    }

    /// <summary>
    /// Two installations pointed at one journal with a destination of the same name: the second
    /// never writes the first's state (it would take the first's uploads for its own); it names
    /// the daemon that holds it, and works once that daemon is gone.
    /// </summary>
    [Fact]
    public async Task A_second_process_on_a_shared_journal_never_writes_a_sync_state_another_holds()
    {
        await ConfigureWithJournalInAsync("btwtwowriters");
        using var other = new Sandbox();
        var user = (await Sandbox.ShellAsync("id", "-un")).Stdout.Trim();
        other.WriteConfig($$"""
            root-path = "{{other.Root}}"
            destinations { offsite { uri = "s3://{{S3TestServer.Bucket}}/{{Path.GetFileName(other.Dir)}}/", s3cmd-config = "{{s3.S3cmdConfig(other.Dir)}}" } }
            sync.journal { provider = postgresql, connection-string = "Host={{pg.SocketDir}};Port={{pg.Port}};Database=btwtwowriters;Username={{user}}" }
            daemon.port = {{Sandbox.FreePort()}}
            """);
        File.AppendAllText(Path.Combine(_box.ConfigDir, "btw-backup.conf"), $"daemon.port = {Sandbox.FreePort()}\n");
        await using var daemon = await DaemonProcess.StartAsync(_box);
        Assert.Equal(0, (await _box.RunAsync("sync-state", "--list")).ExitCode);

        var refused = await other.RunAsync("sync-state", "--list");
        Assert.Equal(1, refused.ExitCode);
        Assert.Matches($@"^btw-backup: offsite: destination-offsite is written by another process \(btw-backup pid {daemon.Pid} on [^ ]+ from the local socket, since [-0-9: ]+ UTC\): one process at a time writes a sync state; this one waits for it to stop\n$", refused.Stderr);
        Assert.Equal("", refused.Stdout);
        // Nor does it back up what it could not record: the backup would land in root with nothing to carry it off-site.
        var src = other.MakeTree("www");
        await other.InitAsync("tar", src, "www");
        var notMade = await other.RunAsync("fs", src, "www");
        Assert.Equal(1, notMade.ExitCode);
        Assert.StartsWith("btw-backup: no backup was made: a destination cannot record what it would store: offsite: destination-offsite is written by another process (", notMade.Stderr);
        Assert.False(Directory.Exists(Path.Combine(other.Root, "www")) && Directory.EnumerateFileSystemEntries(Path.Combine(other.Root, "www")).Any());

        await daemon.TerminateAsync();
        var free = await other.RunAsync("sync-state", "--list");
        Assert.True(free.ExitCode == 0, free.ToString());
    }
}
