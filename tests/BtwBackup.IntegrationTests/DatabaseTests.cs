using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>db and db -g through out/btw-backup against a real PostgreSQL server.</summary>
[Collection(PostgresCollection.Name)]
public sealed class DatabaseTests : IDisposable
{
    private readonly PostgresCluster _pg;
    private readonly Sandbox _box = new();
    private readonly string _tmp;

    public DatabaseTests(PostgresCluster pg)
    {
        _pg = pg;
        _tmp = Directory.CreateDirectory(Path.Combine(_box.Dir, "tmp")).FullName;
        var env = new Dictionary<string, string?>(pg.ClientEnvironment) { ["TMPDIR"] = _tmp };
        _box.Environment = env;
    }

    public void Dispose() => _box.Dispose();

    private static string NewName() => "t" + Guid.NewGuid().ToString("N")[..10];

    private async Task<string> NewDatabaseAsync()
    {
        var db = NewName();
        await _pg.CreateDatabaseAsync(db);
        await _pg.PsqlAsync(db, "create table item (id int primary key, name text); insert into item values (1, 'one'), (2, 'two');");
        return db;
    }

    /// <summary>Only the configuration under test can reach the server: the client defaults lead nowhere.</summary>
    private void PointTheClientDefaultsNowhere() =>
        _box.Environment = new Dictionary<string, string?> { ["PGHOST"] = "/nonexistent", ["PGPORT"] = "1", ["TMPDIR"] = _tmp };

    private void DbConf(string name, string text)
    {
        Directory.CreateDirectory(Path.Combine(_box.ConfigDir, "db"));
        File.WriteAllText(Path.Combine(_box.ConfigDir, "db", name), text);
    }

    [Fact]
    public async Task A_command_that_outlasts_remotings_heartbeats_gets_its_reply_through_the_daemon()
    {
        // pg_dump waits for a lock that another session holds for 25 s: the CLI waits on the
        // daemon that long, well past the few seconds after which a lost heartbeat counts.
        var db = await NewDatabaseAsync();
        var port = Sandbox.FreePort();
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            daemon { port = {{port}} }
            """);
        await using var daemon = await DaemonProcess.StartAsync(_box);
        var holder = _pg.PsqlAsync(db, "begin; lock table item in access exclusive mode; select pg_sleep(25); commit;");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (await _pg.PsqlAsync(db, "select count(*) from pg_locks where mode = 'AccessExclusiveLock' and granted and relation = 'item'::regclass") != "1\n")
        {
            Assert.True(DateTime.UtcNow < deadline, "the lock was never taken");
            await Task.Delay(100);
        }

        var started = DateTime.UtcNow;
        var backup = await _box.RunAsync("db", db, "dbs/" + db);
        Assert.True(backup.ExitCode == 0, backup + "\n" + daemon.Output);
        Assert.Contains("gateway: BackupDatabase", daemon.Output, StringComparison.Ordinal);
        Assert.True(DateTime.UtcNow - started > TimeSpan.FromSeconds(15), "the command did not wait for the lock: the test proves nothing");
        await holder;
        Assert.Equal("f", await _box.ShapeAsync("dbs/" + db));
    }

    [Fact]
    public async Task Backups_of_a_changing_database_give_f_fi_fii_and_an_unchanged_one_is_skipped()
    {
        var db = await NewDatabaseAsync();
        await _box.QuietOkAsync("db", db, "dbs/" + db);
        Assert.Equal("f", await _box.ShapeAsync("dbs/" + db));

        // Two dumps of an unchanged database differ at most in the time in their headers.
        await _box.QuietOkAsync("db", db, "dbs/" + db);
        Assert.Equal("f", await _box.ShapeAsync("dbs/" + db));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: no change in the data to be backed up: skipping creation of new incremental backup$",
            Assert.Single(File.ReadAllLines(Path.Combine(_box.Root, "dbs", db, "log.txt"))));

        await _pg.PsqlAsync(db, "alter table item add column price int");
        await _box.QuietOkAsync("db", db, "dbs/" + db);
        Assert.Equal("fi", await _box.ShapeAsync("dbs/" + db));
        await _pg.PsqlAsync(db, "insert into item values (3, 'three', 5)");
        await _box.QuietOkAsync("db", db, "dbs/" + db);
        Assert.Equal("fii", await _box.ShapeAsync("dbs/" + db));
        var folder = Assert.Single(Directory.GetDirectories(Path.Combine(_box.Root, "dbs", db)));
        Assert.True(File.Exists(Path.Combine(folder, db + ".dump")));
        Assert.Empty(Directory.GetFileSystemEntries(_tmp));
    }

    [Fact]
    public async Task An_unchanged_database_is_told_by_its_dumps_bytes_without_pg_restore_and_a_change_is_stored()
    {
        var db = await NewDatabaseAsync();
        var calls = Path.Combine(_box.Dir, "pg_restore.calls");
        var real = (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Select(d => Path.Combine(d, "pg_restore")).First(File.Exists);
        _box.PathOverride = _box.FaultyTools(("pg_restore", $"echo \"$*\" >> '{calls}'\nexec '{real}' \"$@\""));
        var stored = () => Path.Combine(Assert.Single(Directory.GetDirectories(Path.Combine(_box.Root, "dbs", db))), db + ".dump");
        string[] Calls() => File.Exists(calls) ? File.ReadAllLines(calls) : [];

        await _box.QuietOkAsync("db", db, "dbs/" + db);
        // A second later: the two dumps differ in the time in their headers, and only there.
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        await _box.QuietOkAsync("db", db, "dbs/" + db);
        Assert.Equal("f", await _box.ShapeAsync("dbs/" + db));

        // One row changed: an increment, still without a pg_restore pass.
        await _pg.PsqlAsync(db, "update item set name = 'changed' where id = 1");
        await _box.QuietOkAsync("db", db, "dbs/" + db);
        Assert.Equal("fi", await _box.ShapeAsync("dbs/" + db));
        Assert.Empty(Calls());

        // The stored dump written since, one byte of its body changed (its change time moved): its
        // recorded digest no longer counts, it is read again, and the fresh dump differs from it.
        var bytes = File.ReadAllBytes(stored());
        bytes[^8] ^= 1;
        File.WriteAllBytes(stored(), bytes);
        await _box.QuietOkAsync("db", db, "dbs/" + db);
        Assert.Equal("fii", await _box.ShapeAsync("dbs/" + db));
        Assert.Empty(Calls());
    }

    [Fact]
    public async Task The_stored_dump_restores_to_the_sql_of_a_fresh_dump()
    {
        var db = await NewDatabaseAsync();
        await _pg.PsqlAsync(db, "create index on item (name); create view v as select name from item;");
        await _box.QuietOkAsync("db", db, "dbs/" + db);
        var folder = Assert.Single(Directory.GetDirectories(Path.Combine(_box.Root, "dbs", db)));
        var stored = await Sandbox.ShellAsync("pg_restore", "-f", "-", Path.Combine(folder, db + ".dump"));
        var fresh = await _pg.ClientAsync("pg_dump", db);
        Assert.Equal(0, stored.ExitCode);
        Assert.Equal(0, fresh.ExitCode);
        Assert.Equal(Normalize(fresh.Stdout), Normalize(stored.Stdout));
        Assert.Contains("CREATE VIEW public.v", stored.Stdout);
    }

    private static string[] Normalize(string sql) =>
        sql.Split('\n').Where(l => !l.StartsWith("\\restrict ", StringComparison.Ordinal) && !l.StartsWith("\\unrestrict ", StringComparison.Ordinal)).ToArray();

    [Fact]
    public async Task Max_incremental_count_0_and_span_0s_give_full_backups()
    {
        var db = await NewDatabaseAsync();
        DbConf(db + ".py", "MAX_INCREMENTAL_COUNT = 0\n");
        await _box.QuietOkAsync("db", db, "count");
        await _pg.PsqlAsync(db, "insert into item values (10, 'x')");
        await _box.QuietOkAsync("db", db, "count");
        Assert.Equal("ff", await _box.ShapeAsync("count"));

        File.Delete(Path.Combine(_box.ConfigDir, "db", db + ".py"));
        DbConf(db + ".conf", "max-incremental-span = 0s\n");
        await _pg.PsqlAsync(db, "insert into item values (11, 'y')");
        await _box.QuietOkAsync("db", db, "span");
        await _pg.PsqlAsync(db, "insert into item values (12, 'z')");
        await _box.QuietOkAsync("db", db, "span");
        Assert.Equal("ff", await _box.ShapeAsync("span"));
    }

    [Fact]
    public async Task Connection_settings_come_from_the_database_conf()
    {
        var db = await NewDatabaseAsync();
        DbConf(db + ".conf", $"host = \"{_pg.SocketDir}\"\nport = {_pg.Port}\n");
        PointTheClientDefaultsNowhere();
        await _box.QuietOkAsync("db", db, "conf");
        Assert.Equal("f", await _box.ShapeAsync("conf"));

        DbConf(db + ".conf", "password = \"secret\"\n");
        var r = await _box.RunAsync("db", db, "conf");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"btw-backup: {Path.Combine(_box.ConfigDir, "db", db + ".conf")}: a password does not belong in the configuration: use ~/.pgpass or PGPASSWORD\n", r.Stderr);
        Assert.DoesNotContain("secret", File.ReadAllText(Path.Combine(_box.ConfigDir, "btw-backup.log")));
    }

    [Fact]
    public async Task A_pg_dump_source_of_btw_backup_conf_gives_the_connection_and_policy()
    {
        var db = await NewDatabaseAsync();
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            sources {
              shop { type = pg-dump, database = {{db}}, dst = "db/shop", host = "{{_pg.SocketDir}}", port = {{_pg.Port}}, max-incremental-count = 0 }
            }
            """);
        PointTheClientDefaultsNowhere();
        await _box.QuietOkAsync("db", db, "db/shop");
        await _pg.PsqlAsync(db, "insert into item values (5, 'five')");
        await _box.QuietOkAsync("db", db, "db/shop");
        Assert.Equal("ff", await _box.ShapeAsync("db/shop"));
    }

    [Fact]
    public async Task Uid_with_the_current_user_names()
    {
        var db = await NewDatabaseAsync();
        var user = (await Sandbox.ShellAsync("id", "-un")).Stdout.Trim();
        var group = (await Sandbox.ShellAsync("id", "-gn")).Stdout.Trim();
        await _box.QuietOkAsync("db", "-u", $"{user}:{group}", db, "owned");
        var folder = Assert.Single(Directory.GetDirectories(Path.Combine(_box.Root, "owned")));
        var owner = (await Sandbox.ShellAsync("stat", "-c", "%U:%G", Path.Combine(folder, db + ".dump"))).Stdout.Trim();
        Assert.Equal($"{user}:{group}", owner);
    }

    [Fact]
    public async Task Globals_hold_the_roles_and_a_new_role_gives_an_increment()
    {
        var role = "r" + NewName();
        await _pg.PsqlAsync("postgres", $"create role {role} login");
        await _box.QuietOkAsync("db", "-g", "globals");
        await _box.QuietOkAsync("db", "-g", "globals");
        Assert.Equal("f", await _box.ShapeAsync("globals"));
        Assert.Contains("skipping creation of new incremental backup", File.ReadAllText(Path.Combine(_box.Root, "globals", "log.txt")));

        var folder = Assert.Single(Directory.GetDirectories(Path.Combine(_box.Root, "globals")));
        var sql = await Sandbox.ShellAsync("bzip2", "-dc", Path.Combine(folder, "global.sql.bz2"));
        Assert.Equal(0, sql.ExitCode);
        Assert.Contains($"CREATE ROLE {role};", sql.Stdout);

        var second = "r" + NewName();
        await _pg.PsqlAsync("postgres", $"create role {second}");
        await _box.QuietOkAsync("db", "-g", "globals");
        Assert.Equal("fi", await _box.ShapeAsync("globals"));
        Assert.Contains($"CREATE ROLE {second};", (await Sandbox.ShellAsync("bzip2", "-dc", Path.Combine(folder, "global.sql.bz2"))).Stdout);
        await _pg.PsqlAsync("postgres", $"drop role {role}; drop role {second}");
    }

    [Fact]
    public async Task Errors_give_the_original_messages_and_store_nothing()
    {
        async Task Expect(string stderr, params string[] args)
        {
            var r = await _box.RunAsync(args);
            Assert.True(r.ExitCode == 1, r.ToString());
            Assert.Equal(stderr, r.Stderr);
            Assert.Equal("", r.Stdout);
        }

        await Expect("btw-backup: either -g (--global) or a database name must be specified\n", "db", "dst");
        await Expect("btw-backup: -g (--global) cannot be used with a database name\n", "db", "-g", "shop", "dst");
        await Expect("btw-backup: the name 'global' cannot be used as a database name: either modify this software or rename your database\n", "db", "global", "dst");
        await Expect("btw-backup: the dst argument cannot be an absolute path\n", "db", "shop", "/dst");

        var missing = NewName();
        var r = await _box.RunAsync("db", missing, "dst");
        Assert.Equal(1, r.ExitCode);
        var lines = r.Stderr.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("pg_dump: error: ", lines[0]);
        Assert.Contains($"database \"{missing}\" does not exist", lines[0]);
        Assert.Equal("btw-backup: pg_dump exited with code: 1", lines[1]);

        // pg_dump missing from PATH: named, nothing stored.
        var bin = Directory.CreateDirectory(Path.Combine(_box.Dir, "bin")).FullName;
        foreach (var tool in new[] { "rdiff-backup", "pg_restore", "bzip2" })
            File.CreateSymbolicLink(Path.Combine(bin, tool), "/usr/bin/" + tool);
        _box.PathOverride = bin;
        await Expect("btw-backup: pg_dump is not installed or not on PATH (./run.sh install-deps installs what btw-backup needs)\n", "db", "postgres", "dst");

        // A failed backup leaves no folder it made.
        Assert.False(Directory.Exists(Path.Combine(_box.Root, "dst")));
        Assert.Empty(Directory.GetFileSystemEntries(_tmp));
    }

    [Fact]
    public async Task A_failing_pg_dumpall_stores_nothing()
    {
        _box.PathOverride = _box.FaultyTools(("pg_dumpall", "echo 'CREATE ROLE half;'\necho 'pg_dumpall: error: lost the connection' >&2\nexit 1"));
        var r = await _box.RunAsync("db", "-g", "globals");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("pg_dumpall: error: lost the connection\nbtw-backup: pg_dumpall exited with code: 1\n", r.Stderr);
        // A failed backup leaves no folder it made.
        Assert.False(Directory.Exists(Path.Combine(_box.Root, "globals")));
        Assert.Empty(Directory.GetFileSystemEntries(_tmp));
    }
}
