using System.Text.RegularExpressions;
using System.Text.Json;
using CliWrap;
using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>restore and verify through out/btw-backup: round trips against the trees and databases as they were.</summary>
[Collection(PostgresAndS3Collection.Name)]
public sealed class RestoreTests : IDisposable
{
    private readonly PostgresCluster _pg;
    private readonly S3TestServer _s3;
    private readonly Sandbox _box = new();
    private readonly string _prefix = "r" + Guid.NewGuid().ToString("N")[..10] + "/";

    public RestoreTests(PostgresCluster pg, S3TestServer s3)
    {
        _pg = pg;
        _s3 = s3;
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            destinations {
              offsite { uri = "s3://{{S3TestServer.Bucket}}/{{_prefix}}", s3cmd-config = "{{s3.S3cmdConfig(_box.Dir)}}" }
            }
            """);
        _box.Environment = pg.ClientEnvironment;
    }

    public void Dispose() => _box.Dispose();

    private string Target(string name) => Path.Combine(_box.Dir, "restored", name);

    /// <summary>Backs up a tree several times with changes; returns each point's name (as list prints it) with the tree as it was.</summary>
    private async Task<List<(string Name, SortedDictionary<string, string> Tree)>> HistoryAsync(string type, string name, int rounds)
    {
        var src = _box.MakeTree(name);
        var working = await _box.InitAsync(type, src, name);
        // Two increments per full backup: the history spans several full-backup folders.
        File.WriteAllText(Path.Combine(working, "source.conf"), $"type = {type}\nmax-incremental-count = 2\n");
        var points = new List<(string, SortedDictionary<string, string>)>();
        for (var i = 0; i < rounds; i++)
        {
            if (i > 0)
            {
                await Sandbox.NextSecondAsync();
                File.WriteAllText(Path.Combine(src, "a.txt"), $"round {i}\n");
                File.WriteAllBytes(Path.Combine(src, "sub", $"new{i}.bin"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(1000 * i));
                File.SetUnixFileMode(Path.Combine(src, "sub", "script.sh"), i % 2 == 0 ? (UnixFileMode)0b111_101_101 : (UnixFileMode)0b111_000_000);
                if (i == 2)
                    File.Delete(Path.Combine(src, "sub", "data.bin"));
            }

            await _box.QuietOkAsync("fs", src, name);
            var listed = (await _box.RunAsync("list", name)).StdoutLines.Select(l => l.Trim()).ToList();
            points.Add((listed[^1], Sandbox.Snapshot(src)));
        }

        return points;
    }

    [Theory]
    [InlineData("rdiff")]
    [InlineData("tar")]
    public async Task Every_point_in_time_comes_back_as_it_was_content_and_modes(string type)
    {
        var points = await HistoryAsync(type, "www", 5);
        Assert.Equal(5, points.Select(p => p.Name).Distinct().Count());
        if (type == "rdiff")
            Assert.Equal("fiifii", await _box.ShapeAsync("www") + "i");

        foreach (var (name, tree) in points)
        {
            var target = Target("www-" + name.Replace(':', '-'));
            var r = await _box.RunAsync("restore", "--at", name, "www", target);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.StartsWith($"btw-backup: restored www as of {name}", r.Stdout, StringComparison.Ordinal);
            Assert.Equal(tree, Sandbox.Snapshot(target));
        }

        // Without --at: the latest. With a time: the latest at or before it.
        await RestoreOkAsync("www", Target("latest"));
        Assert.Equal(points[^1].Tree, Sandbox.Snapshot(Target("latest")));
        var between = (type == "tar" ? points[2].Name[..^4] : points[2].Name) + ".5";
        Assert.Equal(0, (await _box.RunAsync("restore", "--at", between, "www", Target("between"))).ExitCode);
        Assert.Equal(points[2].Tree, Sandbox.Snapshot(Target("between")));

        // Nothing is written into a non-empty target without --force, and nothing is left beside it.
        var intoRoot = await _box.RunAsync("restore", "--force", "www", Path.Combine(_box.Root, "www"));
        Assert.Equal(1, intoRoot.ExitCode);
        Assert.Contains("is inside the backups", intoRoot.Stderr, StringComparison.Ordinal);
        var refused = await _box.RunAsync("restore", "--at", points[0].Name, "www", Target("latest"));
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("is not empty", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(points[^1].Tree, Sandbox.Snapshot(Target("latest")));
        Assert.Equal(0, (await _box.RunAsync("restore", "--force", "--at", points[0].Name, "www", Target("latest"))).ExitCode);
        Assert.Equal(points[0].Tree, Sandbox.Snapshot(Target("latest")));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(Path.Combine(_box.Dir, "restored")), e => Path.GetFileName(e).StartsWith('.'));
    }

    [Fact]
    public async Task With_root_gone_a_restore_from_the_destination_gives_back_the_same_trees()
    {
        var points = await HistoryAsync("rdiff", "www", 4);
        var notes = _box.MakeTree("notes");
        await _box.InitAsync("tar", notes, "notes");
        await _box.QuietOkAsync("fs", notes, "notes");
        var notesTree = Sandbox.Snapshot(notes);
        Directory.Delete(_box.Root, recursive: true);

        foreach (var (name, tree) in new[] { points[^1], points[1] })
        {
            var target = Target("remote-" + name.Replace(':', '-'));
            var r = await _box.RunAsync("restore", "--from", "offsite", "--at", name, "www", target);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("fetched from offsite", r.Stdout, StringComparison.Ordinal);
            Assert.Equal(tree, Sandbox.Snapshot(target));
        }

        await RestoreOkAsync("--from", "offsite", "notes", Target("notes"));
        Assert.Equal(notesTree, Sandbox.Snapshot(Target("notes")));
        Assert.False(Directory.Exists(_box.Root), "a restore from S3 must not recreate root");

        var unknown = await _box.RunAsync("restore", "--from", "elsewhere", "www", Target("x"));
        Assert.Equal("btw-backup: --from: no destination named 'elsewhere' (configured: offsite)\n", unknown.Stderr);
    }

    /// <summary>
    /// The latest point from S3 is the repository's mirror file: its reverse increments (here the
    /// old 2 MiB of a rewritten file) are not fetched. Asked by name, the same point fetches the
    /// whole folder: both give the same tree.
    /// </summary>
    [Fact]
    public async Task The_latest_point_from_the_destination_is_fetched_without_the_increments()
    {
        var src = _box.MakeTree("big");
        await _box.InitAsync("rdiff", src, "big");
        File.WriteAllBytes(Path.Combine(src, "random.bin"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(2 << 20));
        await _box.QuietOkAsync("fs", src, "big");
        await Sandbox.NextSecondAsync();
        File.WriteAllBytes(Path.Combine(src, "random.bin"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(2 << 20));
        await _box.QuietOkAsync("fs", src, "big");
        Assert.Equal("fi", await _box.ShapeAsync("big"));
        var latestName = (await _box.RunAsync("list", "big")).StdoutLines[^1].Trim();
        var tree = Sandbox.Snapshot(src);
        Directory.Delete(_box.Root, recursive: true);

        var named = await _box.RunAsync("restore", "--from", "offsite", "--at", latestName, "big", Target("named"));
        var latest = await _box.RunAsync("restore", "--from", "offsite", "big", Target("latest"));
        Assert.True(named.ExitCode == 0 && latest.ExitCode == 0, named + "\n" + latest);
        Assert.Equal(tree, Sandbox.Snapshot(Target("named")));
        Assert.Equal(tree, Sandbox.Snapshot(Target("latest")));
        Assert.True(Fetched(latest) < Fetched(named) - (3 << 19), $"{latest.Stdout} against {named.Stdout}");
    }

    /// <summary>The size a restore says it fetched ("fetched from offsite (ENTRY, 1.5 MiB)"), in bytes.</summary>
    private static double Fetched(RunResult r)
    {
        var m = Regex.Match(r.Stdout, @"fetched from offsite \([^,]+, ([0-9.]+) (B|KiB|MiB|GiB)\)");
        Assert.True(m.Success, r.ToString());
        var unit = m.Groups[2].Value switch { "KiB" => 1024.0, "MiB" => 1048576.0, "GiB" => 1073741824.0, _ => 1.0 };
        return double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) * unit;
    }

    [Fact]
    public async Task A_database_and_the_globals_come_back_as_they_were()
    {
        await _pg.CreateDatabaseAsync("shop");
        await _pg.PsqlAsync("shop", "create table item (id int primary key, name text); insert into item values (1, 'tea');");
        await _box.QuietOkAsync("db", "shop", "db/shop");
        var first = await DumpSqlAsync("shop");
        await _box.QuietOkAsync("db", "-g", "db/global");
        var globals = await GlobalsSqlAsync();
        var firstName = (await _box.RunAsync("list", "db/shop")).StdoutLines[^1].Trim();

        await Sandbox.NextSecondAsync();
        await _pg.PsqlAsync("shop", "insert into item values (2, 'cake'); create table other (x int);");
        await _box.QuietOkAsync("db", "shop", "db/shop");
        var second = await DumpSqlAsync("shop");
        Assert.NotEqual(first, second);

        // Into new databases, each compared with pg_dump of the original at that time.
        var r = await _box.RunAsync("restore", "--at", firstName, "--database", "shop_then", "db/shop");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("into the database shop_then (created)", r.Stdout, StringComparison.Ordinal);
        Assert.Equal(first, await DumpSqlAsync("shop_then"));
        await RestoreOkAsync("--database", "shop_now", "db/shop");
        Assert.Equal(second, await DumpSqlAsync("shop_now"));

        // A database that has tables is never restored into without --force.
        var refused = await _box.RunAsync("restore", "--at", firstName, "--database", "shop_now", "db/shop");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("the database shop_now has 2 table(s)", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(second, await DumpSqlAsync("shop_now"));
        Assert.Equal(0, (await _box.RunAsync("restore", "--force", "--at", firstName, "--database", "shop_now", "db/shop")).ExitCode);
        Assert.Equal(first, await DumpSqlAsync("shop_now"));
        Assert.DoesNotContain("shop_now_btw", await _pg.PsqlAsync("postgres", "select string_agg(datname, ',') from pg_database"), StringComparison.Ordinal);

        // Into a folder: the dump file itself, and the globals as SQL.
        await RestoreOkAsync("--at", firstName, "db/shop", Target("dump"));
        var restoredDump = Assert.Single(Directory.GetFiles(Target("dump")));
        Assert.Equal("shop.dump", Path.GetFileName(restoredDump));
        Assert.Equal(first, Clean((await _pg.ClientAsync("pg_restore", "--no-owner", "-f", "-", restoredDump)).Stdout));
        await RestoreOkAsync("db/global", Target("global"));
        Assert.Equal(globals, Clean(File.ReadAllText(Path.Combine(Target("global"), "global.sql"))));
    }

    [Fact]
    public async Task Verify_reads_everything_and_names_a_corrupt_archive_and_a_wrong_object_on_the_server()
    {
        await HistoryAsync("rdiff", "www", 3);
        var notes = _box.MakeTree("notes");
        await _box.InitAsync("tar", notes, "notes");
        await _box.QuietOkAsync("fs", notes, "notes");

        var ok = await _box.RunAsync("verify");
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Equal(["notes: 1 backup read, all good", "www: 3 backups read, all good"], ok.StdoutLines[..2]);
        Assert.Matches(@"^-> offsite: \d+ file\(s\) match, 0 pending, all good$", ok.StdoutLines[2]);

        // Another body under an existing key, as a faulty server or a hand-made mistake would leave.
        var wwwFull = Directory.GetDirectories(Path.Combine(_box.Root, "www"))[0];
        var key = $"www/{Path.GetFileName(wwwFull)}/backup.tar";
        var bogus = Path.Combine(_box.Dir, "bogus");
        File.WriteAllText(bogus, "not a backup");
        Assert.Equal(0, (await Sandbox.ShellAsync("s3cmd", "-c", _s3.S3cmdConfig(_box.Dir), "--quiet", "put", bogus, $"s3://{S3TestServer.Bucket}/{_prefix}{key}")).ExitCode);
        // And a flipped byte in the middle of the local tar archive.
        var archive = Directory.GetFiles(Path.Combine(_box.Root, "notes"), "*.tbz")[0];
        var bytes = File.ReadAllBytes(archive);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(archive, bytes);

        var bad = await _box.RunAsync("verify", "--json");
        Assert.Equal(1, bad.ExitCode);
        using var report = JsonDocument.Parse(bad.Stdout);
        Assert.False(report.RootElement.GetProperty("ok").GetBoolean());
        var notesProblems = report.RootElement.GetProperty("series").EnumerateArray().Single(s => s.GetProperty("dst").GetString() == "notes").GetProperty("problems");
        Assert.StartsWith(Path.GetFileName(archive) + ": tar cannot read it", notesProblems[0].GetString(), StringComparison.Ordinal);
        var destination = report.RootElement.GetProperty("destinations")[0].GetProperty("problems").EnumerateArray().Select(p => p.GetString()).ToList();
        Assert.Contains(key + ": the server's copy differs (MD5)", destination);
        Assert.Contains($"notes/{Path.GetFileName(archive)}: the server's copy differs (MD5)", destination);
        Assert.EndsWith("verify found 3 problem(s)\n", bad.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_names_work_that_stays_pending_because_its_syncs_fail()
    {
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            destinations {
              offsite { uri = "s3://no-such-bucket/{{_prefix}}", s3cmd-config = "{{_s3.S3cmdConfig(_box.Dir)}}" }
            }
            """);
        var notes = _box.MakeTree("notes");
        await _box.InitAsync("tar", notes, "notes");
        Assert.Equal(1, (await _box.RunAsync("fs", notes, "notes")).ExitCode);
        var archive = Path.GetFileName(Directory.GetFiles(Path.Combine(_box.Root, "notes"), "*.tbz")[0]);

        var r = await _box.RunAsync("verify", "notes");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("notes: 1 backup read, all good", r.StdoutLines[0]);
        Assert.Equal("-> offsite: 0 file(s) match, 1 pending, 2 problem(s)", r.StdoutLines[1]);
        Assert.Contains(r.StdoutLines, l => l.StartsWith("  notes: cannot be compared, the destination does not answer: ", StringComparison.Ordinal));
        Assert.Contains(r.StdoutLines, l => l.StartsWith($"  notes/{archive}: pending since ", StringComparison.Ordinal) && l.Contains("and no sync has completed since", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_archive_with_a_member_outside_the_target_is_refused_and_nothing_is_written()
    {
        var work = Directory.CreateDirectory(Path.Combine(_box.Dir, "craft", "inner")).FullName;
        File.WriteAllText(Path.Combine(_box.Dir, "craft", "x"), "escaped\n");
        var series = Directory.CreateDirectory(Path.Combine(_box.Root, "evil")).FullName;
        var archive = Path.Combine(series, "2030-01-01T00:00:00.tbz");
        var made = await Cli.Wrap("tar").WithArguments(["-cjPf", archive, "../x"]).WithWorkingDirectory(work)
            .WithValidation(CliWrap.CommandResultValidation.None).ExecuteAsync();
        Assert.Equal(0, made.ExitCode);

        var r = await _box.RunAsync("restore", "evil", Target("evil"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("btw-backup: refused to restore 2030-01-01T00:00:00.tbz: the member '../x' has a '..' component (it would go above its folder); nothing was restored\n", r.Stderr);
        Assert.False(Directory.Exists(Target("evil")));
        Assert.False(File.Exists(Path.Combine(_box.Dir, "restored", "x")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_box.Dir, "restored")));
    }

    /// <summary>A restore that succeeds says what it restored, on one line, and nothing on stderr.</summary>
    private async Task RestoreOkAsync(params string[] args)
    {
        var r = await _box.RunAsync(["restore", .. args]);
        if (r.ExitCode != 0 || r.Stderr != "" || r.StdoutLines.Length != 1 || !r.Stdout.StartsWith("btw-backup: restored ", StringComparison.Ordinal))
            throw new Xunit.Sdk.XunitException($"btw-backup restore {string.Join(' ', args)}: expected one line and success, got {r}");
    }

    private async Task<string> DumpSqlAsync(string database) => Clean((await _pg.ClientAsync("pg_dump", "--no-owner", database)).Stdout);

    private async Task<string> GlobalsSqlAsync() => Clean((await _pg.ClientAsync("pg_dumpall", "-g")).Stdout);

    /// <summary>pg_dump writes a random \restrict key per run (PostgreSQL 15.18); nothing else differs between two dumps of the same data.</summary>
    private static string Clean(string sql) =>
        string.Join('\n', sql.Split('\n').Where(l => !l.StartsWith("\\restrict", StringComparison.Ordinal) && !l.StartsWith("\\unrestrict", StringComparison.Ordinal)));
}
