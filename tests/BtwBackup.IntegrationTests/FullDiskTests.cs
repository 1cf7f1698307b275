using System.Security.Cryptography;
using CliWrap;
using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>A test that mounts file systems: it runs as root, and says why it is skipped otherwise.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (Environment.UserName != "root")
            Skip = "needs root: mounts a small tmpfs as the root path to fill it";
    }
}

/// <summary>A small tmpfs mounted on a folder (the sandbox's root path), unmounted on Dispose.</summary>
public sealed class SmallDisk : IDisposable
{
    private SmallDisk(string dir) => Dir = dir;

    public string Dir { get; }

    public static async Task<SmallDisk> MountAsync(string dir, int kilobytes)
    {
        var r = await Sandbox.ShellAsync("mount", "-t", "tmpfs", "-o", $"size={kilobytes}k", "tmpfs", dir);
        if (r.ExitCode != 0)
            throw new InvalidOperationException("mount failed: " + r);
        return new SmallDisk(dir);
    }

    public async Task ResizeAsync(int kilobytes)
    {
        var r = await Sandbox.ShellAsync("mount", "-o", $"remount,size={kilobytes}k", Dir);
        if (r.ExitCode != 0)
            throw new InvalidOperationException("remount failed: " + r);
    }

    public long Free => new DriveInfo(Dir).AvailableFreeSpace;

    /// <summary>Fills the disk but for <paramref name="leave"/> bytes with a file outside the series.</summary>
    public string Fill(long leave)
    {
        var path = Path.Combine(Dir, "filler");
        File.WriteAllBytes(path, new byte[Math.Max(0, Free - leave)]);
        return path;
    }

    public void Dispose() => Cli.Wrap("umount").WithArguments(["-l", Dir]).WithValidation(CommandResultValidation.None).ExecuteAsync().Task.GetAwaiter().GetResult();
}

/// <summary>
/// fs (tar and rdiff) on a root path that fills up, and an rdiff increment killed with kill -9:
/// the series stays as it was, the error is one line, and the next run after space is freed works.
/// </summary>
public sealed class FullDiskTests : IDisposable
{
    private readonly Sandbox _box = new();
    private SmallDisk? _disk;

    public void Dispose()
    {
        _disk?.Dispose();
        _box.Dispose();
    }

    /// <summary>The series as bytes, without rdiff-backup's own session logs (they record the failed attempt by design).</summary>
    internal static SortedDictionary<string, string> SeriesState(string root) =>
        new(Sandbox.Snapshot(root)
            .Where(kv => !kv.Key.EndsWith("rdiff-backup-data/backup.log", StringComparison.Ordinal)
                && !kv.Key.EndsWith("rdiff-backup-data/regress.log", StringComparison.Ordinal)
                && Path.GetFileName(kv.Key) != "filler")
            .ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal);

    internal static void AssertNoLeftovers(string root)
    {
        var left = Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(Path.GetFileName)
            .Where(n => n!.StartsWith("rdiff-backup.tmp.", StringComparison.Ordinal) || n.EndsWith(".partial", StringComparison.Ordinal))
            .ToList();
        Assert.Empty(left);
    }

    /// <summary>Root holds at most the empty series folder: no file, no partial folder.</summary>
    internal static void AssertNothingStored(string root)
    {
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 };
        Assert.Empty(Directory.EnumerateFiles(root, "*", options));
        Assert.DoesNotContain(Directory.EnumerateDirectories(root, "*", options), d => Path.GetFileName(d).StartsWith('.'));
    }

    internal static void AssertNoSpaceLine(RunResult r, string root)
    {
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("", r.Stdout);
        Assert.Equal($"btw-backup: no space left on tmpfs ({root})", r.Stderr.TrimEnd('\n'));
    }

    private static void AddRandomFile(string dir, string name, int bytes) =>
        File.WriteAllBytes(Path.Combine(dir, name), RandomNumberGenerator.GetBytes(bytes));

    [RootFact]
    public async Task A_tar_backup_that_fills_the_disk_leaves_the_series_as_it_was()
    {
        var src = _box.MakeTree("www");
        await _box.InitAsync("tar", src, "www");
        _disk = await SmallDisk.MountAsync(_box.Root, 1024);
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("f", await _box.ShapeAsync("www"));

        var before = SeriesState(_box.Root);
        AddRandomFile(src, "big.bin", 2_000_000);
        await Sandbox.NextSecondAsync();
        var r = await _box.RunAsync("fs", src, "www");
        AssertNoSpaceLine(r, _box.Root);
        Assert.Equal(before, SeriesState(_box.Root));
        AssertNoLeftovers(_box.Root);

        await _disk.ResizeAsync(8192);
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("ff", await _box.ShapeAsync("www"));
    }

    [RootFact]
    public async Task A_first_backup_that_fills_the_disk_stores_nothing()
    {
        var src = _box.MakeTree("www");
        AddRandomFile(src, "big.bin", 2_000_000);
        await _box.InitAsync("rdiff", src, "www");
        _disk = await SmallDisk.MountAsync(_box.Root, 1024);
        var r = await _box.RunAsync("fs", src, "www");
        AssertNoSpaceLine(r, _box.Root);
        FullDiskTests.AssertNothingStored(_box.Root);

        await _disk.ResizeAsync(8192);
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("f", await _box.ShapeAsync("www"));
    }

    [RootFact]
    public async Task Rdiff_increments_that_fill_the_disk_are_rolled_back_and_the_next_run_stores_them()
    {
        var src = _box.MakeTree("www");
        await _box.InitAsync("rdiff", src, "www");
        _disk = await SmallDisk.MountAsync(_box.Root, 1024);
        await _box.QuietOkAsync("fs", src, "www");

        // The first increment of a repository: rdiff-backup's own regress cannot roll it back.
        var before = SeriesState(_box.Root);
        AddRandomFile(src, "big.bin", 1_500_000);
        await Sandbox.NextSecondAsync();
        var r = await _box.RunAsync("fs", src, "www");
        AssertNoSpaceLine(r, _box.Root);
        Assert.Equal(before, SeriesState(_box.Root));
        AssertNoLeftovers(_box.Root);
        Assert.Equal("f", await _box.ShapeAsync("www"));

        await _disk.ResizeAsync(16384);
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("fi", await _box.ShapeAsync("www"));

        // A later increment, on a disk filled by something else: rolled back by rdiff-backup regress.
        var filler = _disk.Fill(leave: 300_000);
        before = SeriesState(_box.Root);
        AddRandomFile(src, "big2.bin", 1_000_000);
        await Sandbox.NextSecondAsync();
        r = await _box.RunAsync("fs", src, "www");
        AssertNoSpaceLine(r, _box.Root);
        Assert.Equal(before, SeriesState(_box.Root));
        AssertNoLeftovers(_box.Root);

        File.Delete(filler);
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("fii", await _box.ShapeAsync("www"));
        var verify = await _box.RunAsync("verify", "www");
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    [RootFact]
    public async Task A_full_scratch_disk_names_the_scratch_disk_and_leaves_root_untouched()
    {
        var src = _box.MakeTree("www");
        AddRandomFile(src, "big.bin", 2_000_000);
        var wd = await _box.InitAsync("rdiff", src, "www");
        var scratch = Directory.CreateDirectory(Path.Combine(wd, "backup")).FullName;
        _disk = await SmallDisk.MountAsync(scratch, 1024);
        var r = await _box.RunAsync("fs", src, "www");
        AssertNoSpaceLine(r, scratch);
        FullDiskTests.AssertNothingStored(_box.Root);
        Assert.Empty(Directory.GetFileSystemEntries(scratch));

        await _disk.ResizeAsync(8192);
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("f", await _box.ShapeAsync("www"));
    }

    [Fact]
    public async Task An_rdiff_increment_killed_with_its_process_group_is_regressed_by_the_next_backup()
    {
        var src = _box.MakeTree("www");
        await _box.InitAsync("rdiff", src, "www");
        for (var i = 0; i < 4; i++)
            AddRandomFile(src, $"big{i}.bin", 50_000_000);
        await _box.QuietOkAsync("fs", src, "www");
        var repo = Assert.Single(Directory.GetDirectories(Path.Combine(_box.Root, "www")));

        // Change every big file so the increment patches the whole archive, then kill it mid-way.
        for (var i = 0; i < 4; i++)
            AddRandomFile(src, $"big{i}.bin", 50_000_000);
        await Sandbox.NextSecondAsync();
        using var cts = new CancellationTokenSource();
        var run = Cli.Wrap("setsid")
            .WithArguments([Sandbox.Exe, "--config-dir", _box.ConfigDir, "fs", src, "www"])
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (!Directory.EnumerateFiles(repo, "rdiff-backup.tmp.*").Any())
        {
            Assert.False(run.Task.IsCompleted, "the increment ended before it could be killed: make the tree bigger");
            Assert.True(DateTime.UtcNow < deadline, "rdiff-backup wrote no temporary file within 120 s");
            await Task.Delay(20);
        }

        var kill = await Sandbox.ShellAsync("kill", "-9", "--", "-" + run.ProcessId);
        Assert.True(kill.ExitCode == 0, kill.ToString());
        await run.Task;

        // The interrupted state is named, not a crash.
        var list = await _box.RunAsync("list", "www");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("interrupted increment: the next backup regresses it", list.Stdout);
        var verify = await _box.RunAsync("verify", "www");
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains("interrupted increment: the next backup regresses it", verify.Stdout + verify.Stderr);
        Assert.DoesNotContain("unexpected error", verify.Stdout + verify.Stderr);

        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("fi", await _box.ShapeAsync("www"));
        AssertNoLeftovers(_box.Root);
        verify = await _box.RunAsync("verify", "www");
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }
}

/// <summary>db on a root path that fills up: the series stays as it was, the next run stores the dump.</summary>
[Collection(PostgresCollection.Name)]
public sealed class FullDiskDatabaseTests : IDisposable
{
    private readonly PostgresCluster _pg;
    private readonly Sandbox _box = new();
    private SmallDisk? _disk;

    public FullDiskDatabaseTests(PostgresCluster pg)
    {
        _pg = pg;
        var tmp = Directory.CreateDirectory(Path.Combine(_box.Dir, "tmp")).FullName;
        _box.Environment = new Dictionary<string, string?>(pg.ClientEnvironment) { ["TMPDIR"] = tmp };
    }

    public void Dispose()
    {
        _disk?.Dispose();
        _box.Dispose();
    }

    [RootFact]
    public async Task A_database_increment_that_fills_the_disk_is_rolled_back_and_the_next_run_stores_it()
    {
        var db = "t" + Guid.NewGuid().ToString("N")[..10];
        await _pg.CreateDatabaseAsync(db);
        await _pg.PsqlAsync(db, "create table item (id int primary key, name text); insert into item values (1, 'one');");
        _disk = await SmallDisk.MountAsync(_box.Root, 1024);
        await _box.QuietOkAsync("db", db, "dbs/" + db);
        Assert.Equal("f", await _box.ShapeAsync("dbs/" + db));

        // About 4 MB of dump: md5 text compresses to about half.
        await _pg.PsqlAsync(db, "insert into item select g, md5(random()::text) || md5(random()::text) || md5(random()::text) from generate_series(2, 60000) g;");
        var before = FullDiskTests.SeriesState(_box.Root);
        await Sandbox.NextSecondAsync();
        var r = await _box.RunAsync("db", db, "dbs/" + db);
        FullDiskTests.AssertNoSpaceLine(r, _box.Root);
        Assert.Equal(before, FullDiskTests.SeriesState(_box.Root));
        FullDiskTests.AssertNoLeftovers(_box.Root);

        await _disk.ResizeAsync(32768);
        await _box.QuietOkAsync("db", db, "dbs/" + db);
        Assert.Equal("fi", await _box.ShapeAsync("dbs/" + db));
    }

    [RootFact]
    public async Task A_dump_that_fills_the_scratch_disk_names_it_and_stores_nothing()
    {
        var db = "t" + Guid.NewGuid().ToString("N")[..10];
        await _pg.CreateDatabaseAsync(db);
        await _pg.PsqlAsync(db, "create table item (id int primary key, name text); insert into item select g, md5(random()::text) || md5(random()::text) || md5(random()::text) from generate_series(1, 60000) g;");
        var tmp = Directory.CreateDirectory(Path.Combine(_box.Dir, "small-tmp")).FullName;
        _disk = await SmallDisk.MountAsync(tmp, 512);
        _box.Environment = new Dictionary<string, string?>(_box.Environment) { ["TMPDIR"] = tmp };
        var r = await _box.RunAsync("db", db, "dbs/" + db);
        FullDiskTests.AssertNoSpaceLine(r, tmp);
        FullDiskTests.AssertNothingStored(_box.Root);
        Assert.Empty(Directory.GetFileSystemEntries(tmp));

        await _disk.ResizeAsync(32768);
        await _box.QuietOkAsync("db", db, "dbs/" + db);
        Assert.Equal("f", await _box.ShapeAsync("dbs/" + db));
    }

    [RootFact]
    public async Task A_globals_increment_on_a_full_disk_is_rolled_back_and_the_next_run_stores_it()
    {
        var role = "r" + Guid.NewGuid().ToString("N")[..10];
        _disk = await SmallDisk.MountAsync(_box.Root, 1024);
        await _box.QuietOkAsync("db", "-g", "globals");
        try
        {
            await _pg.PsqlAsync("postgres", $"create role {role}");
            var filler = _disk.Fill(leave: 0);
            var before = FullDiskTests.SeriesState(_box.Root);
            await Sandbox.NextSecondAsync();
            var r = await _box.RunAsync("db", "-g", "globals");
            FullDiskTests.AssertNoSpaceLine(r, _box.Root);
            Assert.Equal(before, FullDiskTests.SeriesState(_box.Root));
            FullDiskTests.AssertNoLeftovers(_box.Root);

            File.Delete(filler);
            await _box.QuietOkAsync("db", "-g", "globals");
            Assert.Equal("fi", await _box.ShapeAsync("globals"));
        }
        finally
        {
            await _pg.PsqlAsync("postgres", $"drop role if exists {role}");
        }
    }
}
