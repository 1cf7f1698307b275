using System.Security.Cryptography;
using BtwBackup.ObjectStore;
using BtwBackup.Testing;
using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>
/// The object store contract (see IObjectStore), one suite run against every implementation:
/// the in-memory fake that actor tests rely on, and AWSSDK.S3 against the S3 test server.
/// </summary>
public abstract class ObjectStoreContract : IDisposable
{
    protected readonly string Dir = Directory.CreateTempSubdirectory("btw-store-").FullName;
    protected string Prefix { get; } = "c" + Guid.NewGuid().ToString("N")[..8] + "/";

    protected abstract IObjectStore Store { get; }

    public void Dispose() => Directory.Delete(Dir, recursive: true);

    protected string File(string name, byte[] content)
    {
        var path = Path.Combine(Dir, name);
        System.IO.File.WriteAllBytes(path, content);
        return path;
    }

    protected static string Md5(byte[] content) => Convert.ToHexStringLower(MD5.HashData(content));

    protected async Task<byte[]> GetAsync(string key)
    {
        var path = Path.Combine(Dir, "got-" + Guid.NewGuid().ToString("N"));
        await Store.GetFileAsync(key, path, CancellationToken.None);
        return await System.IO.File.ReadAllBytesAsync(path);
    }

    protected async Task<List<RemoteObject>> ListAsync(string prefix)
    {
        var list = new List<RemoteObject>();
        await foreach (var o in Store.ListAsync(prefix, CancellationToken.None))
            list.Add(o);
        return list;
    }

    private async Task PutAsync(string key, byte[] content) =>
        await Store.PutFileAsync(key, File(Guid.NewGuid().ToString("N"), content), Md5(content), CancellationToken.None);

    [Fact]
    public async Task Put_then_list_and_get_give_the_exact_bytes()
    {
        var content = RandomNumberGenerator.GetBytes(100_000);
        await PutAsync(Prefix + "a/b.bin", content);
        var listed = Assert.Single(await ListAsync(Prefix));
        Assert.Equal((Prefix + "a/b.bin", 100_000L, Md5(content)), (listed.Key, listed.Size, listed.ContentMd5));
        Assert.Equal(content, await GetAsync(Prefix + "a/b.bin"));
    }

    [Fact]
    public async Task Overwrite_with_the_same_size_gives_the_new_content()
    {
        await PutAsync(Prefix + "x", "aaaa"u8.ToArray());
        await PutAsync(Prefix + "x", "bbbb"u8.ToArray());
        Assert.Equal("bbbb"u8.ToArray(), await GetAsync(Prefix + "x"));
        Assert.Equal(Md5("bbbb"u8.ToArray()), (await ListAsync(Prefix)).Single().ContentMd5);
    }

    [Fact]
    public async Task Listing_over_several_pages_gives_every_key_once_in_byte_order()
    {
        // Names whose byte order differs from a folder walk's: '-' < '.' < '/' < '0'.
        var keys = new List<string>();
        string[] separators = ["/", "-", ".", "0"];
        for (var i = 0; i < 1030; i++)
            keys.Add($"{Prefix}d{separators[i % 4]}{i:D4}");
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (k, _) => await PutAsync(k, [1]));
        var listed = (await ListAsync(Prefix)).Select(o => o.Key).ToList();
        Assert.Equal(keys.Order(StringComparer.Ordinal), listed);
    }

    [Fact]
    public async Task Listing_is_limited_to_thePrefix()
    {
        await PutAsync(Prefix + "pre/a", [1]);
        await PutAsync(Prefix + "prefix/b", [2]);
        await PutAsync(Prefix + "pre", [3]);
        Assert.Equal([Prefix + "pre/a"], (await ListAsync(Prefix + "pre/")).Select(o => o.Key));
        Assert.Empty(await ListAsync(Prefix + "none/"));
    }

    [Fact]
    public async Task Keys_with_spaces_plus_percent_and_colons_are_listed_as_they_are()
    {
        // Listings are asked URL-encoded: what comes back must be decoded exactly once.
        string[] keys = [Prefix + "a b", Prefix + "a+b", Prefix + "a%20b", Prefix + "2016-01-01T00:00:00/é&<x>"];
        foreach (var key in keys)
            await PutAsync(key, [1]);
        Assert.Equal(keys.Order(StringComparer.Ordinal), (await ListAsync(Prefix)).Select(o => o.Key));
    }

    [Fact]
    public async Task Delete_removes_and_a_missing_key_is_not_an_error()
    {
        await PutAsync(Prefix + "gone", [1, 2, 3]);
        await Store.DeleteAsync(Prefix + "gone", CancellationToken.None);
        await Store.DeleteAsync(Prefix + "never-was", CancellationToken.None);
        Assert.Empty(await ListAsync(Prefix));
    }

    [Fact]
    public async Task A_body_that_does_not_match_its_md5_is_an_error()
    {
        // As when a file changes while it is uploaded: the MD5 computed before no longer holds.
        var path = File("bad", "new"u8.ToArray());
        var e = await Assert.ThrowsAsync<ObjectStoreException>(() => Store.PutFileAsync(Prefix + "k", path, Md5("other"u8.ToArray()), CancellationToken.None));
        Assert.True(e.Transient);
    }

    /// <summary>Content made on the fly (an encryption): small and multipart, the ETag returned is the listing's, and a source that is not its declared size stores nothing.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(70_000)]
    [InlineData(2 * 8 * 1024 * 1024 + 123)]
    public async Task A_stream_of_a_known_size_is_stored_byte_exact_under_the_etag_it_returns(int size)
    {
        var content = RandomNumberGenerator.GetBytes(size);
        var opened = 0;
        var etag = await Store.PutStreamAsync(Prefix + "s.age", () => { opened++; return new MemoryStream(content); }, size, CancellationToken.None);
        var listed = Assert.Single(await ListAsync(Prefix));
        Assert.Equal(etag, listed.ETag);
        Assert.Equal(content, await GetAsync(Prefix + "s.age"));
        Assert.Equal(1, opened);

        var longer = await Assert.ThrowsAsync<ObjectStoreException>(() => Store.PutStreamAsync(Prefix + "long.age", () => new MemoryStream([.. content, 1]), size, CancellationToken.None));
        var shorter = await Assert.ThrowsAsync<ObjectStoreException>(() => Store.PutStreamAsync(Prefix + "short.age", () => new MemoryStream(content), size + 1, CancellationToken.None));
        Assert.True(longer.Transient && shorter.Transient, longer.Message + " / " + shorter.Message);
        Assert.Equal([Prefix + "s.age"], (await ListAsync(Prefix)).Select(o => o.Key));
    }

    [Fact]
    public async Task A_large_file_is_stored_byte_exact()
    {
        var content = RandomNumberGenerator.GetBytes((int)(2.5 * S3ObjectStore.PartSize) + 12345);
        await PutAsync(Prefix + "big", content);
        Assert.Equal(Md5(content), Md5(await GetAsync(Prefix + "big")));
        Assert.Equal(content.Length, (await ListAsync(Prefix)).Single().Size);
    }
}

public sealed class InMemoryObjectStoreContract : ObjectStoreContract
{
    protected override IObjectStore Store { get; } = new InMemoryObjectStore();
}

/// <summary>The contract on AWSSDK.S3, and what only S3 has (parts, ETags, another client), over HTTP and HTTPS.</summary>
public abstract class S3ObjectStoreContractBase(S3TestServer server) : ObjectStoreContract
{
    protected override IObjectStore Store { get; } = server.Store();

    [Fact]
    public async Task A_file_above_the_single_put_limit_goes_in_parts_and_is_stored_byte_exact()
    {
        using var store = server.Store(multipartAbove: S3ObjectStore.PartSize);
        var content = RandomNumberGenerator.GetBytes((int)(2.5 * S3ObjectStore.PartSize) + 12345);
        var key = Prefix + "parts";
        await store.PutFileAsync(key, File("parts", content), Md5(content), CancellationToken.None);
        var listed = Assert.Single(await ListAsync(Prefix));
        Assert.EndsWith("-3", listed.ETag); // three parts: the ETag of a multipart upload
        Assert.Null(listed.ContentMd5);
        Assert.Equal(Md5(content), await store.StoredMd5Async(key, CancellationToken.None));
        Assert.Equal(Md5(content), Md5(await GetAsync(key)));
    }

    /// <summary>
    /// The server itself refuses a body that does not match its Content-MD5 (over HTTPS that
    /// header is all that binds an unsigned body), and the copy it held stays.
    /// </summary>
    [Fact]
    public async Task The_server_refuses_a_body_whose_md5_differs_and_keeps_the_copy_it_held()
    {
        var good = RandomNumberGenerator.GetBytes(20_000);
        await Store.PutFileAsync(Prefix + "k", File("good", good), Md5(good), CancellationToken.None);
        var e = await Assert.ThrowsAsync<ObjectStoreException>(() =>
            Store.PutFileAsync(Prefix + "k", File("bad", RandomNumberGenerator.GetBytes(20_000)), Md5(good), CancellationToken.None));
        Assert.Equal("BadDigest", Assert.IsType<Amazon.S3.AmazonS3Exception>(e.InnerException).ErrorCode);
        Assert.True(e.Transient);
        Assert.Equal(good, await GetAsync(Prefix + "k"));
    }

    [Fact]
    public async Task What_s3cmd_downloads_is_what_was_uploaded()
    {
        var content = RandomNumberGenerator.GetBytes(70_000);
        var key = "s3cmd-check/" + Guid.NewGuid().ToString("N");
        await Store.PutFileAsync(key, File("up", content), Md5(content), CancellationToken.None);
        var target = Path.Combine(Dir, "down");
        var r = await Sandbox.ShellAsync("s3cmd", "-c", server.S3cmdConfig(Dir), "get", $"s3://{S3TestServer.Bucket}/{key}", target);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(Md5(content), Md5(await System.IO.File.ReadAllBytesAsync(target)));
    }
}

[Collection(S3Collection.Name)]
public sealed class S3ObjectStoreContract(S3TestServer server) : S3ObjectStoreContractBase(server);

/// <summary>
/// Over HTTPS the bodies go unsigned (UNSIGNED-PAYLOAD): each is still bound by its signed
/// Content-MD5, which the server checks (The_server_refuses_a_body_whose_md5_differs_and_keeps_the_copy_it_held).
/// </summary>
public sealed class TlsS3ObjectStoreContract(TlsS3TestServer server) : S3ObjectStoreContractBase(server), IClassFixture<TlsS3TestServer>;
