using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>Client-side encryption as a user meets it: keygen, then encrypted destinations on the S3 test server.</summary>
public sealed class KeygenTests : IDisposable
{
    private readonly Sandbox _box = new();

    public void Dispose() => _box.Dispose();

    [Fact]
    public async Task Keygen_writes_a_private_identity_age_reads_prints_its_recipient_and_never_replaces_a_file()
    {
        var file = Path.Combine(_box.Dir, "identity.txt");
        var made = await _box.RunAsync("keygen", file);
        Assert.True(made.ExitCode == 0, made.ToString());
        Assert.Matches("^age1[a-z0-9]{58}\n$", made.Stdout);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var recipient = await Sandbox.ShellAsync("age-keygen", "-y", file);
        Assert.Equal(made.Stdout, recipient.Stdout);
        // The identity never shows on stdout or stderr when it goes to a file.
        var secret = File.ReadAllLines(file).Single(l => l.StartsWith("AGE-SECRET-KEY-1", StringComparison.Ordinal));
        Assert.DoesNotContain(secret, made.Stdout + made.Stderr);

        var before = File.ReadAllText(file);
        var again = await _box.RunAsync("keygen", file);
        Assert.Equal(new RunResult(1, "", $"btw-backup: {file} exists: keygen never replaces an identity (the backups encrypted to it would be lost with it)\n"), again);
        Assert.Equal(before, File.ReadAllText(file));

        // A link planted where the identity goes: refused, and what it points to is untouched.
        var victim = Path.Combine(_box.Dir, "victim");
        File.WriteAllText(victim, "keep\n");
        var link = Path.Combine(_box.Dir, "planted.txt");
        File.CreateSymbolicLink(link, victim);
        Assert.Equal(1, (await _box.RunAsync("keygen", link)).ExitCode);
        Assert.Equal("keep\n", File.ReadAllText(victim));
    }
}

/// <summary>An encrypted destination on the S3 test server: what it holds is unreadable without the identity, and comes back with it.</summary>
[Collection(S3Collection.Name)]
public sealed class EncryptedDestinationTests(S3TestServer s3) : IDisposable
{
    private readonly Sandbox _box = new();
    private readonly string _prefix = "e" + Guid.NewGuid().ToString("N")[..10] + "/";

    private const string Manifest = ".btw-manifest.age";

    public void Dispose() => _box.Dispose();

    /// <summary>Every object under the prefix (the manifest too) and its ETag, as the server lists them.</summary>
    private async Task<SortedDictionary<string, string>> EtagsAsync()
    {
        using var store = new BtwBackup.ObjectStore.S3ObjectStore(s3.Connection());
        var etags = new SortedDictionary<string, string>(StringComparer.Ordinal);
        await foreach (var o in store.ListAsync(_prefix, CancellationToken.None))
            etags[o.Key[_prefix.Length..]] = o.ETag!;
        return etags;
    }

    /// <summary>The file in which the S3 test server keeps an object's bytes.</summary>
    private string Stored(string relative)
    {
        var all = Directory.GetFiles(Path.Combine(s3.Directory, S3TestServer.Bucket), "*._S3rver_object", SearchOption.AllDirectories);
        return all.SingleOrDefault(f => f.EndsWith("/" + _prefix + relative + "._S3rver_object", StringComparison.Ordinal))
            ?? throw new Xunit.Sdk.XunitException($"no stored object for {_prefix}{relative} among: {string.Join(", ", all.Where(f => f.Contains(_prefix, StringComparison.Ordinal)))}");
    }

    [Fact]
    public async Task An_encrypted_destination_holds_nothing_readable_skips_what_is_unchanged_and_restores_with_the_identity_only()
    {
        var identity = Path.Combine(_box.Dir, "identity.txt");
        var recipient = (await _box.RunAsync("keygen", identity)).Stdout.Trim();
        var escrow = Path.Combine(_box.Dir, "escrow.txt");
        var escrowRecipient = (await _box.RunAsync("keygen", escrow)).Stdout.Trim();
        var destination = $$"""
            destinations {
              offsite {
                uri = "s3://{{S3TestServer.Bucket}}/{{_prefix}}", s3cmd-config = "{{s3.S3cmdConfig(_box.Dir)}}"
                encryption { recipients = "{{recipient}}, {{escrowRecipient}}" }
              }
            }
            """;
        // First without encryption: the server holds the data in clear.
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            destinations { offsite { uri = "s3://{{S3TestServer.Bucket}}/{{_prefix}}", s3cmd-config = "{{s3.S3cmdConfig(_box.Dir)}}" } }
            """);
        var marker = "BTW-MARKER-" + Guid.NewGuid().ToString("N");
        var www = _box.MakeTree("www");
        File.WriteAllText(Path.Combine(www, "secret.txt"), marker + "\n");
        await _box.InitAsync("rdiff", www, "www");
        // A file of root outside any series, for the rewrite below.
        var data = Path.Combine(Directory.CreateDirectory(Path.Combine(_box.Root, "extra")).FullName, "data.bin");
        File.WriteAllBytes(data, System.Security.Cryptography.RandomNumberGenerator.GetBytes(50_000));
        await _box.QuietOkAsync("fs", www, "www");
        List<string> Everything() => [.. Directory.GetFiles(Path.Combine(s3.Directory, S3TestServer.Bucket), "*", SearchOption.AllDirectories)
            .Where(f => f.Contains(_prefix.TrimEnd('/'), StringComparison.Ordinal))];
        Assert.Contains(Everything(), f => File.ReadAllText(f).Contains(marker, StringComparison.Ordinal));

        // The destination gains encryption: sync --full stores every object again, encrypted, under the same keys,
        // and nothing the server stored (objects and their metadata) holds the marker any more; age reads what the tool wrote.
        _box.WriteConfig($"root-path = \"{_box.Root}\"\n{destination}");
        await _box.QuietOkAsync("sync", "--full");
        var everything = Everything();
        Assert.NotEmpty(everything);
        Assert.All(everything, f => Assert.DoesNotContain(marker, File.ReadAllText(f)));
        // The series' tree (rdiff-backup's mirror, a tar of the source) holds the marker in clear in root.
        var tree = Directory.GetFiles(Path.Combine(_box.Root, "www"), "backup.tar", SearchOption.AllDirectories).Single();
        var relative = Path.GetRelativePath(_box.Root, tree);
        Assert.Contains(marker, File.ReadAllText(tree));
        var decrypted = Path.Combine(_box.Dir, "decrypted.tar");
        var age = await Sandbox.ShellAsync("age", "-d", "-i", escrow, "-o", decrypted, Stored(relative));
        Assert.True(age.ExitCode == 0, age.ToString());
        Assert.Equal(File.ReadAllBytes(tree), File.ReadAllBytes(decrypted));
        var before = await EtagsAsync();
        // Beside the objects, the manifest: every object, its plaintext MD5 and size, readable with the identity only.
        var manifest = await Sandbox.ShellAsync("age", "-d", "-i", identity, Stored(Manifest));
        Assert.True(manifest.ExitCode == 0, manifest.ToString());
        using (var json = System.Text.Json.JsonDocument.Parse(manifest.Stdout))
        {
            var listed = json.RootElement.GetProperty("Objects").EnumerateArray().ToDictionary(o => o.GetProperty("Path").GetString()!, o => o.GetProperty("PlainMd5").GetString());
            Assert.Equal(before.Keys.Where(k => k != Manifest), listed.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(File.ReadAllBytes(tree))), listed[relative]);
        }

        Assert.Equal(Sandbox.FileHashes(_box.Root).Keys.Append(Manifest).Order(StringComparer.Ordinal), before.Keys);

        // Nothing changed: a full sync uploads nothing (each upload of an encryption would be new bytes, so a new ETag).
        await _box.QuietOkAsync("sync", "--full");
        Assert.Equal(before, await EtagsAsync());

        // The same size and the same mtime, other content: uploaded again, and only that file.
        var mtime = File.GetLastWriteTimeUtc(data);
        File.WriteAllBytes(data, System.Security.Cryptography.RandomNumberGenerator.GetBytes((int)new FileInfo(data).Length));
        File.SetLastWriteTimeUtc(data, mtime);
        await _box.QuietOkAsync("sync", "--full");
        var after = await EtagsAsync();
        var changed = Path.GetRelativePath(_box.Root, data);
        Assert.Equal([Manifest, changed], after.Keys.Where(k => after[k] != before[k]));

        // verify needs no key; verify --deep reads every object back, decrypted.
        var verified = await _box.RunAsync("verify");
        Assert.True(verified.ExitCode == 0, verified.ToString());
        Assert.Equal(new RunResult(1, "", "btw-backup: offsite is encrypted: verify --deep needs --identity FILE to read it back (verify alone needs no key)\n"),
            await _box.RunAsync("verify", "--deep"));
        var deep = await _box.RunAsync("verify", "--deep", "--identity", escrow);
        Assert.True(deep.ExitCode == 0, deep.ToString());
        Assert.Matches($@"-> offsite: {before.Count - 1} file\(s\) match, 0 pending, all good", deep.Stdout);

        // The server serves other bytes for one object, consistently (its MD5 made anew): verify sees the upload is not the one
        // recorded, --deep sees it fails authentication, and sync --full puts it right.
        var stored = Stored(changed);
        var damagedBytes = File.ReadAllBytes(stored);
        damagedBytes[^20] ^= 1;
        File.WriteAllBytes(stored, damagedBytes);
        File.WriteAllText(stored + ".md5", Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(damagedBytes)));
        var noticed = await _box.RunAsync("verify");
        Assert.Equal(1, noticed.ExitCode);
        Assert.Contains($"{changed}: the server's copy is not the encryption of this file that the sync state recorded (ETag and plaintext MD5)", noticed.Stdout);
        var deepNoticed = await _box.RunAsync("verify", "--deep", "--identity", identity);
        Assert.Equal(1, deepNoticed.ExitCode);
        Assert.Contains($"{changed}: cannot be decrypted: chunk 0 fails authentication (tampered, truncated or reordered)", deepNoticed.Stdout);
        await _box.QuietOkAsync("sync", "--full");
        Assert.Equal(0, (await _box.RunAsync("verify", "--deep", "--identity", identity)).ExitCode);

        // No identity: one line, nothing written. The wrong one: one line, nothing written.
        var target = Path.Combine(_box.Dir, "restored");
        var without = await _box.RunAsync("restore", "--from", "offsite", "www", target);
        Assert.Equal(new RunResult(1, "", "btw-backup: offsite is encrypted: restore --from offsite needs --identity FILE (an identity its recipients belong to)\n"), without);
        var stranger = Path.Combine(_box.Dir, "stranger.txt");
        await _box.RunAsync("keygen", stranger);
        var wrong = await _box.RunAsync("restore", "--from", "offsite", "--identity", stranger, "www", target);
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("cannot be decrypted: no identity given matches any of its recipients", wrong.Stderr);
        Assert.Single(wrong.Stderr.Trim().Split('\n'));
        Assert.False(Directory.Exists(target));

        // The identity alone brings the tree back, from the server (root is not read).
        Directory.Delete(Path.Combine(_box.Root, "www"), recursive: true);
        var restored = await _box.RunAsync("restore", "--from", "offsite", "--identity", identity, "www", target);
        Assert.True(restored.ExitCode == 0, restored.ToString());
        Assert.Equal(marker + "\n", File.ReadAllText(Path.Combine(target, "secret.txt")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(www, "sub", "data.bin")), File.ReadAllBytes(Path.Combine(target, "sub", "data.bin")));

        // The worst day: root and the configuration directory gone. A fresh one with the destination's block and the identity is enough.
        using (var fresh = new Sandbox())
        {
            fresh.WriteConfig($"root-path = \"{fresh.Root}\"\n{destination}");
            var elsewhere = Path.Combine(fresh.Dir, "restored");
            var worst = await fresh.RunAsync("restore", "--from", "offsite", "--identity", identity, "www", elsewhere);
            Assert.True(worst.ExitCode == 0, worst.ToString());
            Assert.Equal(marker + "\n", File.ReadAllText(Path.Combine(elsewhere, "secret.txt")));
            Assert.Equal(Sandbox.FileHashes(target), Sandbox.FileHashes(elsewhere));
        }

        // Another authentic object put in the place of one (the server's choice), or one dropped: the manifest gives either away.
        var (tarFile, dataFile) = (Stored(relative), Stored(changed));
        var original = File.ReadAllBytes(tarFile);
        var originalMd5 = File.ReadAllText(tarFile + ".md5");
        File.Copy(dataFile, tarFile, overwrite: true);
        File.Copy(dataFile + ".md5", tarFile + ".md5", overwrite: true);
        var swapped = await _box.RunAsync("restore", "--from", "offsite", "--identity", identity, "www", Path.Combine(_box.Dir, "third"));
        Assert.Equal(1, swapped.ExitCode);
        Assert.Contains($"{_prefix}{relative} is not the content the manifest of ", swapped.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_box.Dir, "third")));
        File.WriteAllBytes(tarFile, original);
        File.WriteAllText(tarFile + ".md5", originalMd5);
        var log = Directory.GetFiles(Path.GetDirectoryName(tarFile)!, "*", SearchOption.AllDirectories).First(f => f.Contains("backup.log._S3rver_", StringComparison.Ordinal));
        var aside = Directory.CreateTempSubdirectory("btw-aside-").FullName;
        var dropped = Directory.GetFiles(Path.GetDirectoryName(log)!, "backup.log._S3rver_*");
        foreach (var f in dropped)
            File.Move(f, Path.Combine(aside, Path.GetFileName(f)));
        var gone = await _box.RunAsync("restore", "--from", "offsite", "--identity", identity, "www", Path.Combine(_box.Dir, "third"));
        Assert.Equal(1, gone.ExitCode);
        Assert.Matches(@"rdiff-backup-data/backup\.log: in the manifest of [-0-9: ]+ but not on the server \(dropped\)", gone.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_box.Dir, "third")));
        foreach (var f in dropped)
            File.Move(Path.Combine(aside, Path.GetFileName(f)), f);

        // One flipped byte in one stored object: the restore names it and leaves its target as it was,
        // whether the server's MD5 gives it away or the server serves it as its own (the MD5 made anew).
        var tampered = Stored(relative);
        var bytes = File.ReadAllBytes(tampered);
        bytes[^40] ^= 1;
        File.WriteAllBytes(tampered, bytes);
        var second = Path.Combine(_box.Dir, "second");
        var damaged = await _box.RunAsync("restore", "--from", "offsite", "--identity", identity, "www", second);
        Assert.Equal(1, damaged.ExitCode);
        Assert.Contains($"get {_prefix}{relative}: the downloaded content does not match its MD5", damaged.Stderr);
        Assert.False(Directory.Exists(second));
        File.WriteAllText(tampered + ".md5", Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(bytes)));
        var failed = await _box.RunAsync("restore", "--from", "offsite", "--identity", identity, "www", second);
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains($"{_prefix}{relative} cannot be decrypted: chunk ", failed.Stderr);
        Assert.False(Directory.Exists(second));

        // No key material in any output, log or status.
        var secrets = new[] { identity, escrow }.Select(f => File.ReadAllLines(f).Single(l => l.StartsWith("AGE-SECRET-KEY-1", StringComparison.Ordinal))).ToList();
        var status = await _box.RunAsync("status", "--json");
        foreach (var text in new[] { status.Stdout, File.ReadAllText(Path.Combine(_box.ConfigDir, "btw-backup.log")), failed.Stderr, restored.Stdout })
            Assert.DoesNotContain(secrets, s => text.Contains(s, StringComparison.Ordinal));
    }
}
