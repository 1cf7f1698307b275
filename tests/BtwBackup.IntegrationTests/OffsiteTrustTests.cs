using System.Security.Cryptography;
using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>
/// The off-site copy that nothing can wipe, through out/btw-backup: a hostile listing cannot
/// make a restore write outside its scratch folder, an empty or partial root cannot make a sync
/// delete the destination's backups, and a restore cannot be pointed into root or over
/// PostgreSQL's own databases. Each attack gets one clear line and exit 1.
/// </summary>
[Collection(S3Collection.Name)]
public sealed class OffsiteTrustTests : IDisposable
{
    private const string Entry = "2016-01-01T00:00:00.tbz";

    private readonly S3TestServer _s3;
    private readonly Sandbox _box = new();
    private readonly string _prefix = "o" + Guid.NewGuid().ToString("N")[..10] + "/";

    public OffsiteTrustTests(S3TestServer s3)
    {
        _s3 = s3;
        Configure();
    }

    public void Dispose() => _box.Dispose();

    private void Configure(string extra = "", string? s3cmdConfig = null, string bucket = S3TestServer.Bucket) => _box.WriteConfig($$"""
        root-path = "{{_box.Root}}"
        {{extra}}
        destinations {
          offsite { uri = "s3://{{bucket}}/{{_prefix}}", s3cmd-config = "{{s3cmdConfig ?? _s3.S3cmdConfig(_box.Dir)}}" }
        }
        """);

    private Task<SortedDictionary<string, string>> RemoteAsync() => _s3.DownloadAsync(_prefix, _box.Dir);

    private void Write(string rel, string content)
    {
        var path = Path.Combine(_box.Root, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>A real .tbz as btw-backup stores it (tar -C DIR -cj .), holding one file.</summary>
    private async Task<byte[]> TbzAsync()
    {
        var src = Directory.CreateDirectory(Path.Combine(_box.Dir, "tbz-src")).FullName;
        File.WriteAllText(Path.Combine(src, "a.txt"), "alpha\n");
        var archive = Path.Combine(_box.Dir, "a.tbz");
        var r = await Sandbox.ShellAsync("tar", "-C", src, "-cjf", archive, ".");
        Assert.True(r.ExitCode == 0, r.ToString());
        var bytes = await File.ReadAllBytesAsync(archive);
        File.Delete(archive);
        Directory.Delete(src, recursive: true);
        return bytes;
    }

    // ---- restore --from a hostile listing ----

    [Fact]
    public async Task The_fake_endpoint_speaks_enough_S3_for_a_clean_restore()
    {
        using var fake = new HostileS3Server();
        Configure(s3cmdConfig: fake.S3cmdConfig(_box.Dir), bucket: "evil");
        fake.Objects[$"{_prefix}www/{Entry}"] = await TbzAsync();
        var target = Path.Combine(_box.Dir, "restored");
        var r = await _box.RunAsync("restore", "--from", "offsite", "www", target);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("alpha\n", File.ReadAllText(Path.Combine(target, "a.txt")));
        Assert.Contains(fake.Requests, q => q.StartsWith("GET /evil", StringComparison.Ordinal) && q.Contains("list-type=2", StringComparison.Ordinal));
    }

    public static TheoryData<string, string, string> HostileKeys() => new()
    {
        // key relative to the destination's prefix (null prefix: as it is), what the line says
        { "www/2016-01-01T00:00:00/../../../../../escaped", "has a '..' component", "" },
        { "www/" + Entry + "/../../../../../escaped", "has a '..' component", "" },
        { "/tmp/btw-escaped-" + Guid.NewGuid().ToString("N")[..6], "is not under the prefix asked for", "absolute" },
        { "www/2016-01-01T00:00:00/a\0b", "holds a NUL character", "" },
        { "www/2016-01-01T00:00:00/a\\..\\..\\x", "holds a backslash", "" },
        { "www/2016-01-01T00:00:00//etc/x", "has an empty component", "" },
        { "www/2016-01-01T00:00:00/a\u001b[2Jb", "holds a control character (\\x1b)", "" },
    };

    [Theory]
    [MemberData(nameof(HostileKeys))]
    public async Task A_restore_from_a_listing_with_a_key_that_leaves_the_scratch_folder_refuses_and_writes_nothing(string key, string reason, string kind)
    {
        using var fake = new HostileS3Server();
        Configure(s3cmdConfig: fake.S3cmdConfig(_box.Dir), bucket: "evil");
        var fullKey = kind == "absolute" ? key : _prefix + key;
        fake.Objects[$"{_prefix}www/{Entry}"] = await TbzAsync();
        fake.Objects[fullKey] = "pwned\n"u8.ToArray();
        if (kind == "absolute")
            fake.AlwaysListed.Add(fullKey);

        var tmp = Directory.CreateDirectory(Path.Combine(_box.Dir, "tmp")).FullName;
        _box.Environment = new Dictionary<string, string?> { ["TMPDIR"] = tmp };
        var target = Path.Combine(_box.Dir, "restored");
        var before = Sandbox.Snapshot(_box.Dir);

        var r = await _box.RunAsync("restore", "--from", "offsite", "www", target);

        Assert.Equal(1, r.ExitCode);
        var shown = fullKey.Replace("\0", "\\x00", StringComparison.Ordinal).Replace("\u001b", "\\x1b", StringComparison.Ordinal);
        var line = Assert.Single(Lines(r.Stderr));
        Assert.StartsWith($"btw-backup: refused to restore www from offsite: the key '{shown}' of the listing {reason}", line, StringComparison.Ordinal);
        Assert.EndsWith("; nothing was restored", line, StringComparison.Ordinal);
        Assert.Equal("", r.Stdout);
        // The fake was asked, and nothing changed around the scratch folder: not TARGET, not its
        // parent, not the temporary folder (the scratch folder itself is gone).
        Assert.Contains(fake.Requests, q => q.Contains("list-type=2", StringComparison.Ordinal));
        Assert.Equal(Outside(before), Outside(Sandbox.Snapshot(_box.Dir)));
        Assert.Empty(Directory.GetFileSystemEntries(tmp));
        Assert.False(Directory.Exists(target));
        if (kind == "absolute")
            Assert.False(File.Exists(key));
    }

    /// <summary>A snapshot of the sandbox without the configuration directory (the log grows there).</summary>
    private static Dictionary<string, string> Outside(SortedDictionary<string, string> snapshot) =>
        snapshot.Where(kv => kv.Key != "config" && !kv.Key.StartsWith("config/", StringComparison.Ordinal)).ToDictionary();

    // ---- sync never deletes because a disk is empty ----

    /// <summary>Two series and a top-level file in root, mirrored; returns what the server holds.</summary>
    private async Task<SortedDictionary<string, string>> MirroredAsync()
    {
        Write("www/2016-01-01T00:00:00/backup.tar", "www tar");
        Write("www/2016-01-01T00:00:00/rdiff-backup-data/x", "meta");
        Write("www/log.txt", "log\n");
        Write("db/shop/2016-01-01T00:00:00/shop.dump", "dump");
        Write("db/shop/log.txt", "log\n");
        await _box.QuietOkAsync("sync", "--full");
        var remote = await RemoteAsync();
        Assert.Equal(Sandbox.FileHashes(_box.Root), remote);
        Assert.Equal(5, remote.Count);
        return remote;
    }

    [Fact]
    public async Task An_empty_root_an_unmounted_disk_deletes_nothing_even_with_allow_deletes()
    {
        var remote = await MirroredAsync();
        // Unmounted: root is the empty mount point.
        var aside = Path.Combine(_box.Dir, "disk");
        Directory.Move(_box.Root, aside);
        Directory.CreateDirectory(_box.Root);

        foreach (var args in new[] { new[] { "sync", "--full" }, ["sync", "--allow-deletes"], ["sync", "--full", "--allow-deletes"] })
        {
            var r = await _box.RunAsync(args);
            Assert.Equal(1, r.ExitCode);
            Assert.Equal(["btw-backup: offsite: nothing deleted: the local folder root holds no file (an unmounted disk?): 5 object(s) kept, e.g. db/shop/2016-01-01T00:00:00/shop.dump, db/shop/log.txt, www/2016-01-01T00:00:00/backup.tar, ...; the sync stays pending until it holds the backups again"],
                Lines(r.Stderr));
            Assert.Equal(remote, await RemoteAsync());
        }

        Assert.Equal("Must sync: .\n", (await _box.RunAsync("sync-state", "--list")).Stdout);
        var verify = await _box.RunAsync("verify");
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains("  root: a sync would stop here: nothing deleted: the local folder root holds no file", verify.Stdout, StringComparison.Ordinal);

        // The disk is back: the pending sync completes, nothing was lost.
        Directory.Delete(_box.Root);
        Directory.Move(aside, _box.Root);
        await _box.QuietOkAsync("sync");
        Assert.Equal("", (await _box.RunAsync("sync-state", "--list")).Stdout);
        Assert.Equal(remote, await RemoteAsync());
    }

    [Fact]
    public async Task A_missing_root_deletes_nothing()
    {
        var remote = await MirroredAsync();
        Directory.Move(_box.Root, Path.Combine(_box.Dir, "gone"));
        var r = await _box.RunAsync("sync", "--full");
        Assert.Equal(1, r.ExitCode);
        Assert.Single(Lines(r.Stderr));
        Assert.Contains("not a local directory", r.Stderr, StringComparison.Ordinal);
        Assert.Equal(remote, await RemoteAsync());
    }

    [Fact]
    public async Task A_series_root_no_longer_holds_is_kept_until_an_administrator_allows_its_deletion()
    {
        var remote = await MirroredAsync();
        Directory.Delete(Path.Combine(_box.Root, "db"), recursive: true);
        Write("www/log.txt", "log\nmore\n");

        var r = await _box.RunAsync("sync", "--full");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(["btw-backup: offsite: nothing deleted: root does not hold the series db (2 object(s)) that the destination holds: a sync never deletes a whole series; sync --allow-deletes if it was removed on purpose; the sync stays pending"],
            Lines(r.Stderr));
        // What differs is still uploaded; nothing of db is gone.
        var after = await RemoteAsync();
        Assert.Equal(Sandbox.FileHashes(_box.Root)["www/log.txt"], after["www/log.txt"]);
        Assert.Equal(remote.Where(kv => kv.Key.StartsWith("db/", StringComparison.Ordinal)), after.Where(kv => kv.Key.StartsWith("db/", StringComparison.Ordinal)));
        Assert.Equal("Must sync: .\n", (await _box.RunAsync("sync-state", "--list")).Stdout);

        var verify = await _box.RunAsync("verify");
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains("  root: a sync would stop here: nothing deleted: root does not hold the series db (2 object(s))", verify.Stdout, StringComparison.Ordinal);

        // A plain sync (the path is pending) is refused again; the administrator's go-ahead deletes.
        Assert.Equal(1, (await _box.RunAsync("sync")).ExitCode);
        await _box.QuietOkAsync("sync", "--allow-deletes");
        Assert.Equal(Sandbox.FileHashes(_box.Root), await RemoteAsync());
        Assert.Equal("", (await _box.RunAsync("sync-state", "--list")).Stdout);
    }

    [Fact]
    public async Task Through_the_daemon_the_same_refusal_and_the_same_go_ahead()
    {
        var remote = await MirroredAsync();
        Configure($"daemon {{ port = {Sandbox.FreePort()} }}");
        await using var daemon = await DaemonProcess.StartAsync(_box);
        Directory.Delete(Path.Combine(_box.Root, "db"), recursive: true);

        var r = await _box.RunAsync("sync", "--full");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("btw-backup: offsite: nothing deleted: root does not hold the series db (2 object(s))", Assert.Single(Lines(r.Stderr)), StringComparison.Ordinal);
        Assert.Equal(remote, await RemoteAsync());

        await _box.QuietOkAsync("sync", "--allow-deletes");
        Assert.Equal(Sandbox.FileHashes(_box.Root), await RemoteAsync());
        Assert.Contains("gateway: SyncNow from akka.tcp://btw-backup-cli@127.0.0.1:", daemon.Output, StringComparison.Ordinal);
        Assert.Equal(daemon.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(_box.ConfigDir, "lock.pid")).Trim());
    }

    [Fact]
    public async Task More_deletions_than_max_delete_or_than_half_a_folder_stop_and_list_until_allowed()
    {
        Configure("sync.max-delete = 5");
        for (var i = 0; i < 20; i++)
            Write($"many/f{i:D2}", i.ToString());
        await _box.QuietOkAsync("sync", "--full");
        var remote = await RemoteAsync();
        Assert.Equal(20, remote.Count);

        for (var i = 0; i < 8; i++)
            File.Delete(Path.Combine(_box.Root, "many", $"f{i:D2}"));
        var r = await _box.RunAsync("sync", "--full");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(["btw-backup: offsite: nothing deleted: the sync of root would delete 8 object(s), more than sync.max-delete (5), e.g. many/f00, many/f01, many/f02, ...; sync --allow-deletes to go ahead; the sync stays pending"],
            Lines(r.Stderr));
        Assert.Equal(remote, await RemoteAsync());

        // Without the limit, more than half of the folder is held back all the same.
        Configure();
        for (var i = 8; i < 11; i++)
            File.Delete(Path.Combine(_box.Root, "many", $"f{i:D2}"));
        r = await _box.RunAsync("sync");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(["btw-backup: offsite: nothing deleted: the sync of root would delete 11 of its 20 object(s) on the destination, more than half, e.g. many/f00, many/f01, many/f02, ...; sync --allow-deletes to go ahead; the sync stays pending"],
            Lines(r.Stderr));
        Assert.Equal(remote, await RemoteAsync());

        await _box.QuietOkAsync("sync", "--allow-deletes");
        var now = await RemoteAsync();
        Assert.Equal(9, now.Count);
        Assert.Equal(Sandbox.FileHashes(_box.Root), now);
    }

    // ---- archive members ----

    [Theory]
    [InlineData("./../evil", "has a '..' component (it would go above its folder)")]
    [InlineData("./a\\b", "holds a backslash")]
    [InlineData("./a//b", "has an empty component ('//', or a '/' at its end)")]
    public async Task An_archive_with_a_member_no_tar_of_btw_backup_writes_is_refused_by_restore_and_named_by_verify(string member, string reason)
    {
        var tar = Path.Combine(_box.Dir, "hostile.tar");
        await using (var output = File.Create(tar))
        await using (var writer = new System.Formats.Tar.TarWriter(output, System.Formats.Tar.TarEntryFormat.Gnu))
        {
            await writer.WriteEntryAsync(new System.Formats.Tar.GnuTarEntry(System.Formats.Tar.TarEntryType.Directory, "./"));
            await writer.WriteEntryAsync(new System.Formats.Tar.GnuTarEntry(System.Formats.Tar.TarEntryType.RegularFile, member) { DataStream = new MemoryStream("pwned\n"u8.ToArray()) });
        }

        Assert.Equal(0, (await Sandbox.ShellAsync("bzip2", tar)).ExitCode);
        Directory.CreateDirectory(Path.Combine(_box.Root, "www"));
        File.Move(tar + ".bz2", Path.Combine(_box.Root, "www", Entry));
        var line = $"the member '{member}' {reason}";

        var verify = await _box.RunAsync("verify", "www");
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains($"  {Entry}: a restore would refuse it: {line}\n", verify.Stdout, StringComparison.Ordinal);

        var target = Path.Combine(_box.Dir, "restored", "www");
        var r = await _box.RunAsync("restore", "www", target);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"btw-backup: refused to restore {Entry}: {line}; nothing was restored"], Lines(r.Stderr));
        Assert.False(File.Exists(Path.Combine(_box.Dir, "restored", "evil")));
        Assert.False(Directory.Exists(target));
    }

    // ---- restore into root, or over PostgreSQL's own databases ----

    [Fact]
    public async Task A_target_reached_through_a_symbolic_link_into_root_is_refused()
    {
        Write("www/2016-01-01T00:00:00.tbz", "x");
        var before = Sandbox.Snapshot(_box.Root);
        var intoRoot = Path.Combine(_box.Dir, "looks-elsewhere");
        Directory.CreateSymbolicLink(intoRoot, _box.Root);

        var r = await _box.RunAsync("restore", "www", Path.Combine(intoRoot, "restored"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"btw-backup: the target {Path.Combine(intoRoot, "restored")} is inside the backups (root-path {_box.Root}) or holds them (through a symbolic link: it is {Path.Combine(_box.Root, "restored")}): restore somewhere else"],
            Lines(r.Stderr));

        var link = Path.Combine(_box.Dir, "link-to-www");
        Directory.CreateSymbolicLink(link, Path.Combine(_box.Root, "www"));
        r = await _box.RunAsync("restore", "--force", "www", link);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith($"btw-backup: the target {link} is inside the backups", r.Stderr, StringComparison.Ordinal);
        Assert.Single(Lines(r.Stderr));
        Assert.Equal(before, Sandbox.Snapshot(_box.Root));

        // A target that is itself a symbolic link (to somewhere harmless) is refused too.
        var elsewhere = Directory.CreateDirectory(Path.Combine(_box.Dir, "elsewhere")).FullName;
        var linkOut = Path.Combine(_box.Dir, "link-out");
        Directory.CreateSymbolicLink(linkOut, elsewhere);
        r = await _box.RunAsync("restore", "www", linkOut);
        Assert.Equal([$"btw-backup: the target {linkOut} is a symbolic link (to {elsewhere}): give the folder it leads to, or another folder"], Lines(r.Stderr));
        Assert.Empty(Directory.GetFileSystemEntries(elsewhere));
    }

    [Theory]
    [InlineData("template1", "it is the template of every CREATE DATABASE")]
    [InlineData("template0", "it is PostgreSQL's pristine template")]
    [InlineData("postgres", "it is the database that tools and administrators connect to by default")]
    public async Task Restoring_over_a_database_postgresql_relies_on_needs_force(string database, string why)
    {
        var r = await _box.RunAsync("restore", "--database", database, "db/x");
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(Lines(r.Stderr));
        Assert.StartsWith($"btw-backup: --database {database}: refused without --force: {why}", line, StringComparison.Ordinal);

        // With --force the check lets it through (to the next one: there is no such series here).
        r = await _box.RunAsync("restore", "--force", "--database", database, "db/x");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("btw-backup: no backups at db/x", r.Stderr, StringComparison.Ordinal);
    }
}
