using BtwBackup.ObjectStore;
using BtwBackup.Sync;
using BtwBackup.Testing;
using Xunit;

namespace BtwBackup.Tests.Sync;

public sealed class MirrorTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("btw-mirror-").FullName;
    private readonly InMemoryObjectStore _store = new() { PageSize = 3 };
    private readonly Mirror _mirror;

    public MirrorTests() => _mirror = new Mirror(_store, _root, "pre/", parallelism: 4);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void Write(string rel, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(_root, rel))!);
        File.WriteAllText(Path.Combine(_root, rel), content);
    }

    private Dictionary<string, string> Remote() =>
        _store.Objects.ToDictionary(kv => kv.Key, kv => System.Text.Encoding.UTF8.GetString(kv.Value));

    [Fact]
    public async Task Push_uploads_a_file_or_a_whole_folder_under_prefix_plus_path()
    {
        Write("www/log.txt", "line\n");
        Write("www/2016-01-01T00:00:00/backup.tar", "tar");
        Write("www/2016-01-01T00:00:00/rdiff-backup-data/x", "meta");
        Assert.Equal(1, (await _mirror.PushAsync("www/log.txt", CancellationToken.None)).Uploaded);
        Assert.Equal(2, (await _mirror.PushAsync("www/2016-01-01T00:00:00/", CancellationToken.None)).Uploaded);
        Assert.Equal(new Dictionary<string, string>
        {
            ["pre/www/log.txt"] = "line\n",
            ["pre/www/2016-01-01T00:00:00/backup.tar"] = "tar",
            ["pre/www/2016-01-01T00:00:00/rdiff-backup-data/x"] = "meta",
        }, Remote());
    }

    [Fact]
    public async Task A_listing_taken_ahead_serves_the_first_sync_of_root_only_while_nothing_was_written()
    {
        Write("s/a", "aaaa");
        Write("s/b", "bbbb");
        await _mirror.SyncAsync("", CancellationToken.None);

        // Taken ahead, nothing written since: the sync of root asks the server nothing.
        var listed = Mirror.ListAheadAsync(() => _store, "pre/", CancellationToken.None);
        await listed;
        var ahead = new Mirror(_store, _root, "pre/", parallelism: 4) { Ahead = listed };
        var before = _store.Requests;
        Assert.Equal(new TransferReport(0, 0, 0, 2), await ahead.SyncAsync("", CancellationToken.None));
        Assert.Equal(before, _store.Requests);
        // Used once: the next sync lists the server again.
        await ahead.SyncAsync("", CancellationToken.None);
        Assert.True(_store.Requests > before, "the second sync used the listing taken ahead again");

        // A push through the mirror after the listing was taken: it is dropped, and what the push stored is not stored twice.
        var stale = new Mirror(_store, _root, "pre/", parallelism: 4) { Ahead = Task.FromResult(await Mirror.ListAheadAsync(() => _store, "pre/", CancellationToken.None)) };
        Write("s/c", "cccc");
        Assert.Equal(1, (await stale.PushAsync("s/c", CancellationToken.None)).Uploaded);
        File.Delete(Path.Combine(_root, "s/b"));
        Assert.Equal(new TransferReport(0, 0, 1, 2), await stale.SyncAsync("", CancellationToken.None));
        Assert.Equal(new Dictionary<string, string> { ["pre/s/a"] = "aaaa", ["pre/s/c"] = "cccc" }, Remote());

        // Only root's sync takes it: a folder's lists the server.
        var folder = new Mirror(_store, _root, "pre/", parallelism: 4) { Ahead = Task.FromResult(new List<RemoteObject>()) };
        Write("s/d", "dddd");
        Assert.Equal(new TransferReport(1, 4, 0, 2), await folder.SyncAsync("s/", CancellationToken.None));
    }

    [Fact]
    public async Task Sync_uploads_what_differs_by_content_deletes_what_is_gone_and_leaves_the_rest()
    {
        Write("s/a", "aaaa");
        Write("s/b", "bbbb");
        Write("s/sub/c", "cccc");
        await _mirror.SyncAsync("s/", CancellationToken.None);

        // Same size, same mtime, other content: still uploaded.
        var mtime = File.GetLastWriteTimeUtc(Path.Combine(_root, "s/a"));
        Write("s/a", "AAAA");
        File.SetLastWriteTimeUtc(Path.Combine(_root, "s/a"), mtime);
        File.Delete(Path.Combine(_root, "s/sub/c"));
        var before = _store.Requests;
        var report = await _mirror.SyncAsync("s/", CancellationToken.None);

        Assert.Equal(new TransferReport(1, 4, 1, 1), report);
        Assert.Equal(new Dictionary<string, string> { ["pre/s/a"] = "AAAA", ["pre/s/b"] = "bbbb" }, Remote());
        Assert.Equal(1 + 1 + 1, _store.Requests - before); // one listing page, one put, one delete
    }

    [Fact]
    public async Task A_failing_file_fails_the_path_but_the_others_are_transferred()
    {
        Write("s/ok1", "1");
        Write("s/bad", "2");
        Write("s/ok2", "3");
        _store.Fault = (op, key) => op == "put" && key.EndsWith("/bad", StringComparison.Ordinal) ? throw new ObjectStoreException("put: 500", transient: true) : Task.CompletedTask;
        var e = await Assert.ThrowsAsync<MirrorException>(() => _mirror.SyncAsync("s/", CancellationToken.None));
        Assert.Equal(["s/bad: put: 500"], e.Failures);
        Assert.Equal(["pre/s/ok1", "pre/s/ok2"], _store.Objects.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Sync_of_a_missing_folder_fails_without_deleting_anything()
    {
        Write("s/a", "a");
        await _mirror.SyncAsync("s/", CancellationToken.None);
        Directory.Delete(Path.Combine(_root, "s"), recursive: true);
        await Assert.ThrowsAsync<MirrorException>(() => _mirror.SyncAsync("s/", CancellationToken.None));
        Assert.Single(_store.Objects);
    }

    [Fact]
    public async Task Sync_of_an_empty_root_or_without_a_series_deletes_nothing_and_says_why()
    {
        Write("www/a", "a");
        Write("db/b", "b");
        await _mirror.SyncAsync("", CancellationToken.None);
        Directory.Delete(Path.Combine(_root, "db"), recursive: true);
        var series = await Assert.ThrowsAsync<DeletionRefusedException>(() => _mirror.SyncAsync("", CancellationToken.None));
        Assert.StartsWith("nothing deleted: root does not hold the series db (1 object(s))", series.Message);
        Assert.Equal(2, _store.Objects.Count);

        Directory.Delete(Path.Combine(_root, "www"), recursive: true);
        var empty = await Assert.ThrowsAsync<DeletionRefusedException>(() => _mirror.SyncAsync("", new DeletionLimits(1000, AllowDeletes: true), CancellationToken.None));
        Assert.StartsWith("nothing deleted: the local folder root holds no file", empty.Message);
        Assert.Equal(2, _store.Objects.Count);

        // The administrator's go-ahead deletes what the series rule held back, and uploads still happen when refused.
        Write("www/a", "a2");
        await Assert.ThrowsAsync<DeletionRefusedException>(() => _mirror.SyncAsync("", CancellationToken.None));
        Assert.Equal("a2", Remote()["pre/www/a"]);
        Assert.Equal(1, (await _mirror.SyncAsync("", new DeletionLimits(1000, AllowDeletes: true), CancellationToken.None)).Deleted);
        Assert.Equal(["pre/www/a"], _store.Objects.Keys);
    }

    [Theory]
    [InlineData("pre/s/../../etc/x")]
    [InlineData("pre/s//x")]
    [InlineData("pre/s/a\\b")]
    [InlineData("pre/s/\u0000")]
    public async Task A_listed_key_that_is_no_safe_path_refuses_the_sync_and_the_fetch(string key)
    {
        Write("s/a", "a");
        await _mirror.SyncAsync("s/", CancellationToken.None);
        var hostile = Path.Combine(_root, "hostile");
        File.WriteAllText(hostile, "x");
        await _store.PutFileAsync(key, hostile, System.Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData("x"u8)), CancellationToken.None);
        var e = await Assert.ThrowsAsync<UnsafePathException>(() => _mirror.SyncAsync("s/", CancellationToken.None));
        Assert.StartsWith($"the key '{SafePath.Show(key)}' of the listing ", e.Message);
        Assert.True(_store.Objects.ContainsKey("pre/s/a"));

        var fetchRoot = Directory.CreateTempSubdirectory("btw-fetch-").FullName;
        try
        {
            var fetcher = new Mirror(_store, Path.Combine(fetchRoot, "in"), "pre/", 2);
            await Assert.ThrowsAsync<UnsafePathException>(() => fetcher.FetchAsync("s/", null, CancellationToken.None));
            Assert.Empty(Directory.GetFileSystemEntries(fetchRoot));
        }
        finally
        {
            Directory.Delete(fetchRoot, recursive: true);
        }
    }

    /// <summary>
    /// A manifest that decrypts but is not whole (anyone who knows a recipient can write one): a
    /// restore says so in one line, never an unexpected error.
    /// </summary>
    [Theory]
    [InlineData("""{"Written":"2026-12-04T02:30:00Z"}""", "is not a manifest this tool wrote")]
    [InlineData("""{"Written":"2026-12-04T02:30:00Z","Objects":[{"Path":"www/p/a","PlainMd5":"0123456789abcdef0123456789abcdef","ETag":"e","Size":1},{"Path":"www/p/a","PlainMd5":"0123456789abcdef0123456789abcdef","ETag":"e","Size":1}]}""", "is not a manifest this tool wrote")]
    [InlineData("""{"Written":"2026-12-04T02:30:00Z","Objects":[null]}""", "is not a manifest this tool wrote")]
    [InlineData("not json", "is not a manifest: ")]
    public async Task A_manifest_that_is_not_whole_refuses_the_restore_in_one_line(string json, string expected)
    {
        var identity = BtwBackup.Crypto.AgeIdentity.Generate();
        async Task PutEncrypted(string key, byte[] bytes) =>
            await _store.PutStreamAsync(key, () => BtwBackup.Crypto.Age.Encrypt(new MemoryStream(bytes), [identity.Recipient]),
                BtwBackup.Crypto.Age.EncryptedLength(1, bytes.Length), CancellationToken.None);
        await PutEncrypted("pre/www/p/a", "content"u8.ToArray());
        await PutEncrypted("pre/.btw-manifest.age", System.Text.Encoding.UTF8.GetBytes(json));
        var fetchRoot = Directory.CreateDirectory(Path.Combine(_root, "fetched")).FullName;
        var mirror = new Mirror(_store, fetchRoot, "pre/", parallelism: 4, [identity.Recipient]) { Identities = [identity] };

        var e = await Assert.ThrowsAsync<ObjectStoreException>(() => mirror.FetchAsync("www/p/", null, CancellationToken.None));
        Assert.StartsWith("pre/.btw-manifest.age " + expected, e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(fetchRoot));
    }

    /// <summary>Three files in root, synced by a mirror <see cref="WithCache"/>: the mirror and its cache.</summary>
    private async Task<(Mirror Mirror, Md5Cache Cache)> SyncedWithCacheAsync()
    {
        Write("s/a", "aaaa");
        Write("s/b/c", "cccc");
        Write("t", "tttt");
        var (mirror, cache) = WithCache();
        await mirror.SyncAsync("", CancellationToken.None);
        return (mirror, cache);
    }

    /// <summary>A mirror with an MD5 cache (beside root, never saved) that keeps what it reads at once (no settle margin).</summary>
    private (Mirror Mirror, Md5Cache Cache) WithCache()
    {
        var cache = Md5Cache.Open(Path.Combine(_root, "..", Path.GetFileName(_root) + ".md5-cache"));
        cache.SettleMargin = TimeSpan.Zero;
        return (new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache }, cache);
    }

    [Fact]
    public async Task Unchanged_is_proved_from_the_listing_and_the_md5s_known_without_reading_a_file()
    {
        var (mirror, cache) = await SyncedWithCacheAsync();
        var reads = cache.Reads;
        Assert.True(await mirror.UnchangedAsync(CancellationToken.None));
        Assert.Equal(reads, cache.Reads);

        // No MD5 in the listing (a multipart upload's ETag): the stored one is asked.
        _store.ListsMd5 = false;
        Assert.True(await mirror.UnchangedAsync(CancellationToken.None));
        await _store.PutStreamAsync("pre/t", () => new MemoryStream("TTTT"u8.ToArray()), 4, CancellationToken.None);
        Assert.False(await mirror.UnchangedAsync(CancellationToken.None));
        _store.ListsMd5 = true;
        Assert.False(await mirror.UnchangedAsync(CancellationToken.None));
        Assert.Equal(reads, cache.Reads);
    }

    [Fact]
    public async Task Unchanged_takes_the_listing_taken_ahead_and_a_request_that_times_out_proves_nothing()
    {
        var (_, cache) = await SyncedWithCacheAsync();
        var listed = Mirror.ListAheadAsync(() => _store, "pre/", CancellationToken.None);
        await listed;
        var before = _store.Requests;
        Assert.True(await new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache, Ahead = listed }.UnchangedAsync(CancellationToken.None));
        Assert.Equal(before, _store.Requests);

        // No MD5 in the listing, and the question for the stored one times out (HttpClient's own
        // cancellation): not equal, whatever the other objects said.
        _store.ListsMd5 = false;
        _store.Fault = (op, key) => op == "head" && key == "pre/t" ? throw new TaskCanceledException("the request timed out") : Task.CompletedTask;
        Assert.False(await new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache }.UnchangedAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_comparison_that_finds_files_to_read_starts_reading_them_for_the_sync_that_follows()
    {
        var (_, cache) = await SyncedWithCacheAsync();
        var reads = cache.Reads;
        Write("s/a", "AAAA");
        Write("new", "nnnn");
        using var until = new CancellationTokenSource();
        var compared = new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache, ReadAheadUntil = until.Token };
        Assert.False(await compared.UnchangedAsync(CancellationToken.None));
        // Read in the background: the two files, and nothing else.
        for (var waited = 0; cache.Reads < reads + 2 && waited < 200; waited++)
            await Task.Delay(50);
        Assert.Equal(reads + 2, cache.Reads);
        // The sync (another mirror on the same cache, as the actors' is) takes what was read ahead: no file read again.
        await new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache }.SyncAsync("", CancellationToken.None);
        Assert.Equal(reads + 2, cache.Reads);
        Assert.Equal("AAAA", Remote()["pre/s/a"]);
        Assert.Equal("nnnn", Remote()["pre/new"]);
        // Without the token, a comparison starts nothing.
        var other = Md5Cache.Open(Path.Combine(_root, "..", Path.GetFileName(_root) + ".other"));
        Assert.False(await new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = other }.UnchangedAsync(CancellationToken.None));
        Assert.Equal(0, other.Reads);
    }

    /// <summary>
    /// What a comparison found different is uploaded ahead (a file rewritten, a file new), the rest
    /// is not, nothing is deleted ahead; the sync that follows joins those uploads (each object is
    /// put once in all) and still deletes what root no longer holds itself.
    /// </summary>
    [Fact]
    public async Task Uploads_ahead_send_only_what_differs_and_the_sync_joins_them()
    {
        var (_, cache) = await SyncedWithCacheAsync();
        Write("s/a", "AAAA");
        Write("new", "nnnn");
        File.Delete(Path.Combine(_root, "t"));
        var puts = new System.Collections.Concurrent.ConcurrentBag<string>();
        _store.Fault = (op, key) =>
        {
            if (op == "put")
                puts.Add(key);
            return Task.CompletedTask;
        };
        var listed = Mirror.ListAheadAsync(() => _store, "pre/", CancellationToken.None);
        var uploads = new UploadsAhead();
        await new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache, Ahead = listed }.UploadAheadAsync(uploads, CancellationToken.None);
        Assert.Equal(["pre/new", "pre/s/a"], puts.Order(StringComparer.Ordinal));
        Assert.Equal("AAAA", Remote()["pre/s/a"]);
        Assert.Equal("tttt", Remote()["pre/t"]);

        var sync = new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache, Ahead = listed, Uploads = uploads };
        Assert.Equal(new TransferReport(2, 8, 1, 1), await sync.SyncAsync("", CancellationToken.None));
        Assert.Equal(["pre/new", "pre/s/a"], puts.Order(StringComparer.Ordinal));
        Assert.Equal(new Dictionary<string, string> { ["pre/new"] = "nnnn", ["pre/s/a"] = "AAAA", ["pre/s/b/c"] = "cccc" }, Remote());
        // Closed by the sync: nothing more is started ahead.
        Assert.Null(uploads.Start("pre/later", "0", () => Task.FromResult(0L)));
    }

    /// <summary>
    /// An upload ahead still in flight when the sync begins, of content the file no longer holds:
    /// the sync waits for it to end before it sends the file's new content, so that the old one
    /// cannot land last. A file uploaded ahead then removed from root is deleted by the sync, though
    /// the listing it compares with was taken before that upload.
    /// </summary>
    [Fact]
    public async Task The_sync_waits_for_the_uploads_ahead_and_a_file_changed_or_removed_since_ends_as_root_holds_it()
    {
        var (_, cache) = await SyncedWithCacheAsync();
        Write("s/a", "AAAA");
        Write("gone", "gggg");
        var gate = new TaskCompletionSource();
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _store.BeforeStore = key =>
        {
            if (key != "pre/s/a")
                return Task.CompletedTask;
            held.TrySetResult();
            return gate.Task;
        };
        var listed = Mirror.ListAheadAsync(() => _store, "pre/", CancellationToken.None);
        var uploads = new UploadsAhead();
        var ahead = new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache, Ahead = listed }.UploadAheadAsync(uploads, CancellationToken.None);
        await held.Task.WaitAsync(TimeSpan.FromSeconds(10));
        for (var waited = 0; !_store.Objects.ContainsKey("pre/gone") && waited < 500; waited++)
            await Task.Delay(10);
        Assert.True(_store.Objects.ContainsKey("pre/gone"), "the new file was not uploaded ahead");
        Write("s/a", "aaAA");
        File.Delete(Path.Combine(_root, "gone"));

        _store.BeforeStore = null;
        var sync = new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache, Ahead = listed, Uploads = uploads }.SyncAsync("", CancellationToken.None);
        await Task.Delay(200);
        Assert.False(sync.IsCompleted, "the sync ended while an upload ahead was in flight");
        gate.SetResult(); // the old content lands now
        Assert.Equal(new TransferReport(1, 4, 1, 2), await sync);
        await ahead;
        Assert.Equal(new Dictionary<string, string> { ["pre/s/a"] = "aaAA", ["pre/s/b/c"] = "cccc", ["pre/t"] = "tttt" }, Remote());
    }

    /// <summary>A file uploaded ahead, then put back as the listing taken before has it: the sync does not take the listing's word, and sends it.</summary>
    [Fact]
    public async Task A_file_put_back_after_its_upload_ahead_is_sent_again()
    {
        var (_, cache) = await SyncedWithCacheAsync();
        Write("s/a", "AAAA");
        var listed = Mirror.ListAheadAsync(() => _store, "pre/", CancellationToken.None);
        var uploads = new UploadsAhead();
        await new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache, Ahead = listed }.UploadAheadAsync(uploads, CancellationToken.None);
        Assert.Equal("AAAA", Remote()["pre/s/a"]);
        Write("s/a", "aaaa");
        var sync = new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache, Ahead = listed, Uploads = uploads };
        Assert.Equal(new TransferReport(1, 4, 0, 2), await sync.SyncAsync("", CancellationToken.None));
        Assert.Equal("aaaa", Remote()["pre/s/a"]);
    }

    /// <summary>
    /// An upload ahead that failed is sent again by the sync; a file rewritten after its upload
    /// ahead (another MD5) is sent with its new content; a listing with a key the sync refuses
    /// uploads nothing ahead.
    /// </summary>
    [Fact]
    public async Task A_failed_or_outdated_upload_ahead_is_sent_by_the_sync_and_a_refused_listing_sends_nothing()
    {
        var (_, cache) = await SyncedWithCacheAsync();
        Write("s/a", "AAAA");
        Write("t", "TTTT");
        var failOnce = 1;
        _store.Fault = (op, key) => op == "put" && key == "pre/s/a" && Interlocked.Exchange(ref failOnce, 0) == 1
            ? throw new ObjectStoreException("put: 500 InternalError", transient: false)
            : Task.CompletedTask;
        var listed = Mirror.ListAheadAsync(() => _store, "pre/", CancellationToken.None);
        var uploads = new UploadsAhead();
        await new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache, Ahead = listed }.UploadAheadAsync(uploads, CancellationToken.None);
        Assert.Equal(2, uploads.Started);
        Assert.Equal("aaaa", Remote()["pre/s/a"]);
        Assert.Equal("TTTT", Remote()["pre/t"]);

        Write("t", "tTtT");
        var sync = new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache, Ahead = listed, Uploads = uploads };
        Assert.Equal(new TransferReport(2, 8, 0, 1), await sync.SyncAsync("", CancellationToken.None));
        Assert.Equal(new Dictionary<string, string> { ["pre/s/a"] = "AAAA", ["pre/s/b/c"] = "cccc", ["pre/t"] = "tTtT" }, Remote());

        _store.Fault = null;
        await _store.PutStreamAsync("pre/../escape", () => new MemoryStream("x"u8.ToArray()), 1, CancellationToken.None);
        Write("s/a", "aAaA");
        var refused = new UploadsAhead();
        await new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache, Ahead = Mirror.ListAheadAsync(() => _store, "pre/", CancellationToken.None) }
            .UploadAheadAsync(refused, CancellationToken.None);
        Assert.Equal(0, refused.Started);
        Assert.Equal("AAAA", Remote()["pre/s/a"]);
    }

    [Fact]
    public async Task A_fifo_or_a_socket_in_root_is_said_and_skipped_never_opened()
    {
        // Nothing of ours puts one there (a source's FIFO goes into a tar), but root can hold
        // anything its administrator leaves: opening a FIFO with no writer would hold the sync forever.
        Write("s/a", "aaaa");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [Path.Combine(_root, "s/fifo")]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(_root, "s/sock")));
        Assert.True(File.Exists(Path.Combine(_root, "s/fifo")));
        var warnings = new List<string>();
        var (_, cache) = WithCache();
        var mirror = new Mirror(_store, _root, "pre/", parallelism: 4) { Hashes = cache, Warn = warnings.Add };
        // A blocked open() does not see a cancellation: a hang fails the test by time instead.
        await mirror.SyncAsync("", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["pre/s/a"], Remote().Keys);
        var warning = Assert.Single(warnings);
        Assert.Equal("2 entries under root are not regular files (a FIFO, socket or device) and not copied: s/fifo, s/sock", warning);
        Assert.True(await mirror.UnchangedAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Two_local_names_for_one_key_with_a_stray_object_are_not_unchanged()
    {
        // "x\\y" and "x/y" are one key on the server; a sync of them leaves one object, and a stray beside it.
        Write("s/x\\y", "same");
        Write("s/x/y", "same");
        var (mirror, _) = WithCache();
        await mirror.PushAsync("s/", CancellationToken.None);
        await _store.PutStreamAsync("pre/stray", () => new MemoryStream("same"u8.ToArray()), 4, CancellationToken.None);
        Assert.Equal(2, _store.Objects.Count);
        Assert.False(await mirror.UnchangedAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_missing_root_is_never_unchanged()
    {
        var (mirror, _) = await SyncedWithCacheAsync();
        Directory.Delete(_root, recursive: true);
        try
        {
            Assert.False(await mirror.UnchangedAsync(CancellationToken.None));
        }
        finally
        {
            Directory.CreateDirectory(_root);
        }
    }

    [Theory]
    [InlineData("rewritten")]
    [InlineData("new local file")]
    [InlineData("deleted local file")]
    [InlineData("object only on the server")]
    [InlineData("object missing")]
    [InlineData("unsafe key")]
    [InlineData("listing fails")]
    public async Task Anything_a_sync_would_act_on_or_report_is_not_unchanged(string change)
    {
        var (mirror, cache) = await SyncedWithCacheAsync();
        switch (change)
        {
            case "rewritten":
                // Same size; the cache cannot vouch for it, and it is not read to find out. (After a
                // tick of the kernel's coarse file clock: this cache keeps unsettled files' MD5s.)
                await Task.Delay(50);
                Write("s/a", "AAAA");
                break;
            case "new local file":
                Write("s/new", "n");
                break;
            case "deleted local file":
                File.Delete(Path.Combine(_root, "t"));
                break;
            case "object only on the server":
                await _store.PutStreamAsync("pre/s/stray", () => new MemoryStream("x"u8.ToArray()), 1, CancellationToken.None);
                break;
            case "object missing":
                await _store.DeleteAsync("pre/s/b/c", CancellationToken.None);
                break;
            case "unsafe key":
                await _store.PutStreamAsync("pre/s/../x", () => new MemoryStream("x"u8.ToArray()), 1, CancellationToken.None);
                break;
            case "listing fails":
                _store.Fault = (op, _) => op == "list" ? throw new ObjectStoreException("list: 503", transient: true) : Task.CompletedTask;
                break;
        }

        var reads = cache.Reads;
        Assert.False(await mirror.UnchangedAsync(CancellationToken.None));
        Assert.Equal(reads, cache.Reads);
    }

    [Fact]
    public async Task Unchanged_is_never_claimed_without_an_md5_cache_nor_for_an_encrypted_destination()
    {
        await SyncedWithCacheAsync();
        Assert.False(await new Mirror(_store, _root, "pre/", parallelism: 4).UnchangedAsync(CancellationToken.None));
        var encrypted = new Mirror(_store, _root, "pre/", parallelism: 4, [BtwBackup.Crypto.AgeIdentity.Generate().Recipient])
        {
            Hashes = Md5Cache.Open(Path.Combine(_root, "..", Path.GetFileName(_root) + ".md5-cache")),
        };
        Assert.False(await encrypted.UnchangedAsync(CancellationToken.None));
    }
}
