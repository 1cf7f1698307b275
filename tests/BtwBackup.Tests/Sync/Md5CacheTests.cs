using System.Security.Cryptography;
using System.Text;
using BtwBackup.Sync;
using BtwBackup.Testing;
using Xunit;

namespace BtwBackup.Tests.Sync;

public sealed class Md5CacheTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-md5-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string CacheFile => Path.Combine(_dir, Md5Cache.FileName);

    /// <summary>No margin: a file written a moment ago counts as settled (the tests cannot wait for the clock).</summary>
    private Md5Cache Open()
    {
        var cache = Md5Cache.Open(CacheFile);
        cache.SettleMargin = TimeSpan.Zero;
        return cache;
    }

    private string Write(string name, string content)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        Thread.Sleep(20);
        return path;
    }

    private static string Md5(string content) => Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(content)));

    [Fact]
    public async Task A_file_unchanged_since_it_was_read_is_not_read_again_even_after_a_restart()
    {
        var f = Write("f", "aaaa");
        var cache = Open();
        Assert.Equal(Md5("aaaa"), await cache.Md5Async(f, default));
        Assert.Equal(Md5("aaaa"), await cache.Md5Async(f, default));
        Assert.Equal(1, cache.Reads);
        Assert.Null(cache.SaveIfChanged());
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(CacheFile));

        var reopened = Open();
        Assert.Null(reopened.Problem);
        Assert.Equal(Md5("aaaa"), await reopened.Md5Async(f, default));
        Assert.Equal(0, reopened.Reads);
    }

    [Fact]
    public async Task A_rewrite_of_the_same_size_with_the_modification_time_set_back_is_read_again()
    {
        var f = Write("f", "aaaa");
        var cache = Open();
        await cache.Md5Async(f, default);
        var mtime = File.GetLastWriteTimeUtc(f);
        File.WriteAllText(f, "bbbb");
        File.SetLastWriteTimeUtc(f, mtime);
        Assert.Equal(Md5("bbbb"), await cache.Md5Async(f, default));
        Assert.Equal(2, cache.Reads);

        // A file replaced by another (a new inode) under the same name and times: read again too.
        var other = Write("other", "cccc");
        File.SetLastWriteTimeUtc(other, mtime);
        File.Move(other, f, overwrite: true);
        Assert.Equal(Md5("cccc"), await cache.Md5Async(f, default));
    }

    [Fact]
    public async Task Files_read_ahead_are_read_once_whether_asked_for_during_or_after_the_read()
    {
        var files = Enumerable.Range(0, 40).Select(i => Write($"f{i}", new string((char)('a' + i % 26), 4096 + i))).ToList();
        var cache = Open();
        var ahead = cache.ReadAhead(files, default);
        // Asked for at once, in the opposite order: some are being read ahead, some not yet, some done.
        var answers = await Task.WhenAll(Enumerable.Reverse(files).Select(f => cache.Md5Async(f, default)));
        await ahead;
        Assert.Equal(Enumerable.Reverse(files).Select(f => Md5(File.ReadAllText(f))), answers);
        Assert.Equal(files.Count, cache.Reads);
        Assert.Equal(files.Count, cache.Count);
        // Once per cache: a second list adds nothing.
        await cache.ReadAhead([Write("late", "zzzz")], default);
        Assert.Equal(files.Count, cache.Reads);
    }

    [Fact]
    public async Task A_file_rewritten_after_it_was_read_ahead_is_read_again_and_what_cannot_be_read_is_the_askers_error()
    {
        var f = Write("f", "aaaa");
        var missing = Path.Combine(_dir, "missing");
        var cache = Open();
        await cache.ReadAhead([missing, _dir, f], default);
        Assert.Equal(3, cache.Reads);
        var mtime = File.GetLastWriteTimeUtc(f);
        File.WriteAllText(f, "bbbb");
        File.SetLastWriteTimeUtc(f, mtime);
        Assert.Equal(Md5("bbbb"), await cache.Md5Async(f, default));
        await Assert.ThrowsAsync<FileNotFoundException>(() => cache.Md5Async(missing, default));
    }

    [Fact]
    public async Task A_file_rewritten_while_it_is_read_ahead_gives_its_new_content()
    {
        // Large enough for the rewrite to land while the read is under way (about 0.1 s of MD5), most
        // of the time; the answer must be the new content whichever way it interleaves.
        var first = new byte[64 << 20];
        new Random(1).NextBytes(first);
        var second = (byte[])first.Clone();
        second[0] ^= 0xFF; // where the read has been already
        var f = Path.Combine(_dir, "big");
        File.WriteAllBytes(f, first);
        var mtime = File.GetLastWriteTimeUtc(f);
        Thread.Sleep(20);
        var cache = Open();
        var ahead = cache.ReadAhead([f], default);
        // Its read has begun (the count goes up as a read starts).
        for (var waited = 0; cache.Reads == 0 && waited < 1000; waited++)
            await Task.Delay(1);
        await Task.Delay(10);
        using (var rewrite = new FileStream(f, FileMode.Open, FileAccess.Write))
            rewrite.Write(second);
        File.SetLastWriteTimeUtc(f, mtime);
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(second)), await cache.Md5Async(f, default));
        await ahead;
    }

    /// <summary>
    /// A file too recent to record, read ahead: an upload started ahead takes that read while the
    /// file has not moved (unsettled: true); a comparison (the default) reads it again, and so does
    /// the upload once the file moved. Nothing of it is recorded.
    /// </summary>
    [Fact]
    public async Task A_read_ahead_of_a_file_too_recent_to_record_serves_only_an_upload_ahead()
    {
        var f = Write("f", "aaaa");
        var cache = Md5Cache.Open(CacheFile);
        cache.SettleMargin = TimeSpan.FromHours(1);
        await cache.ReadAhead([f], default);
        Assert.Equal(1, cache.Reads);
        Assert.Equal(Md5("aaaa"), await cache.Md5Async(f, default, unsettled: true));
        Assert.Equal(1, cache.Reads);
        Assert.Equal(Md5("aaaa"), await cache.Md5Async(f, default));
        Assert.Equal(2, cache.Reads);
        Assert.Null(cache.Known(f));

        File.WriteAllText(f, "bbbb");
        Assert.Equal(Md5("bbbb"), await cache.Md5Async(f, default, unsettled: true));
        Assert.Equal(3, cache.Reads);
    }

    [Fact]
    public async Task A_read_ahead_stopped_before_it_starts_reads_nothing()
    {
        var f = Write("f", "aaaa");
        var cache = Open();
        await cache.ReadAhead([f], new CancellationToken(canceled: true));
        Assert.Equal(0, cache.Reads);
        Assert.Equal(Md5("aaaa"), await cache.Md5Async(f, default));
        Assert.Equal(1, cache.Reads);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(Md5Cache.ReadAtOnceUpTo - 1)]
    [InlineData(Md5Cache.ReadAtOnceUpTo)]
    [InlineData(Md5Cache.ReadAtOnceUpTo + 1)]
    public async Task A_file_read_at_once_or_streamed_has_its_whole_content_hashed(int size)
    {
        var content = new byte[size];
        new Random(size).NextBytes(content);
        var path = Path.Combine(_dir, "f");
        File.WriteAllBytes(path, content);
        Assert.Equal(MD5.HashData(content), await Md5Cache.ReadMd5Async(path, default));
        Assert.Equal(size < Md5Cache.ReadAtOnceUpTo, Md5Cache.ReadSmall(path) is { } small && small.Buffer[..small.Length].SequenceEqual(content));
    }

    [Fact]
    public async Task A_file_written_within_the_margin_before_the_read_is_not_recorded()
    {
        var f = Write("f", "aaaa");
        var cache = Md5Cache.Open(CacheFile);
        Assert.Equal(TimeSpan.FromSeconds(2), cache.SettleMargin);
        await cache.Md5Async(f, default);
        await cache.Md5Async(f, default);
        Assert.Equal(2, cache.Reads);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task A_damaged_cache_is_said_and_ignored_and_the_next_save_replaces_it()
    {
        var f = Write("f", "aaaa");
        var first = Open();
        await first.Md5Async(f, default);
        first.SaveIfChanged();
        var bytes = File.ReadAllBytes(CacheFile);
        File.WriteAllBytes(CacheFile, bytes[..^5]);

        var damaged = Open();
        Assert.Contains("cannot be read", damaged.Problem);
        Assert.Equal(Md5("aaaa"), await damaged.Md5Async(f, default));
        Assert.Equal(1, damaged.Reads);
        Assert.Null(damaged.SaveIfChanged());

        File.WriteAllText(CacheFile, "not a cache");
        Assert.NotNull(Open().Problem);
    }

    [Fact]
    public async Task A_cache_that_cannot_be_written_is_said_kept_in_memory_and_written_by_the_next_save()
    {
        var f = Write("f", "aaaa");
        var cache = Open();
        await cache.Md5Async(f, default);
        // Something in the way of the rename (as a full disk or a read-only folder would be).
        Directory.CreateDirectory(CacheFile);
        Assert.Contains("was not written", cache.SaveIfChanged());
        Assert.Equal(Md5("aaaa"), await cache.Md5Async(f, default));
        Assert.Equal(1, cache.Reads);
        Assert.False(File.Exists(CacheFile + ".partial"));

        Directory.Delete(CacheFile);
        Assert.Null(cache.SaveIfChanged());
        Assert.Equal(1, Open().Count);
    }

    [Fact]
    public async Task Files_that_are_gone_are_left_out_of_the_next_save()
    {
        var kept = Write("kept", "k");
        var gone = Write("gone", "g");
        var cache = Open();
        await cache.Md5Async(kept, default);
        await cache.Md5Async(gone, default);
        File.Delete(gone);
        var another = Write("another", "a");
        await cache.Md5Async(another, default);
        cache.SaveIfChanged();
        Assert.Equal(2, Open().Count);
    }

    [Fact]
    public async Task A_mirror_with_the_cache_reads_an_unchanged_tree_once_and_still_uploads_a_same_size_rewrite()
    {
        var root = Directory.CreateDirectory(Path.Combine(_dir, "root")).FullName;
        Directory.CreateDirectory(Path.Combine(root, "s"));
        foreach (var name in new[] { "a", "b", "c" })
            File.WriteAllText(Path.Combine(root, "s", name), name + name);
        Thread.Sleep(20);
        var store = new InMemoryObjectStore();
        var cache = Open();
        var mirror = new Mirror(store, root, "pre/", parallelism: 2) { Hashes = cache };
        Assert.Equal(3, (await mirror.SyncAsync("s/", default)).Uploaded);
        Assert.Equal(0, (await mirror.SyncAsync("s/", default)).Uploaded);
        Assert.Equal(3, cache.Reads);

        var a = Path.Combine(root, "s", "a");
        var mtime = File.GetLastWriteTimeUtc(a);
        File.WriteAllText(a, "AA");
        File.SetLastWriteTimeUtc(a, mtime);
        var report = await mirror.SyncAsync("s/", default);
        Assert.Equal(1, report.Uploaded);
        Assert.Equal("AA", Encoding.UTF8.GetString(store.Objects["pre/s/a"]));
        Assert.Equal(4, cache.Reads);
    }
}
