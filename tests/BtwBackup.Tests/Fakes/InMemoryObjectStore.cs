using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

using BtwBackup.ObjectStore;

namespace BtwBackup.Testing;

/// <summary>
/// An object store in memory, for actor and engine tests (a test double: it never ships). It honours the same contract as S3
/// (byte-order listings in pages, exact content) and takes an optional fault per operation, so
/// a test can make exactly one call fail.
/// </summary>
public sealed class InMemoryObjectStore : IObjectStore
{
    private readonly ConcurrentDictionary<string, byte[]> _objects = new(StringComparer.Ordinal);

    /// <summary>Called before each operation with its name ("list", "put", "delete", "get", "head") and key; may throw.</summary>
    public Func<string, string, Task>? Fault { get; set; }

    /// <summary>Awaited by a file's PUT once its body is read and checked, before it is stored (by key): a slow upload whose content was taken earlier.</summary>
    public Func<string, Task>? BeforeStore { get; set; }

    public int PageSize { get; init; } = 1000;

    /// <summary>False: the listing gives no MD5 (as for a multipart upload's ETag); <see cref="StoredMd5Async"/> has it.</summary>
    public bool ListsMd5 { get; set; } = true;

    public int Requests;

    public IReadOnlyDictionary<string, byte[]> Objects => _objects;

    public async IAsyncEnumerable<RemoteObject> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken ct)
    {
        var keys = _objects.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        for (var page = 0; page * PageSize < keys.Count || page == 0; page++)
        {
            Interlocked.Increment(ref Requests);
            if (Fault is not null)
                await Fault("list", prefix);
            foreach (var key in keys.Skip(page * PageSize).Take(PageSize))
            {
                if (_objects.TryGetValue(key, out var bytes))
                    yield return new RemoteObject(key, bytes.Length, ListsMd5 ? Convert.ToHexStringLower(MD5.HashData(bytes)) : null) { ETag = Convert.ToHexStringLower(MD5.HashData(bytes)) };
            }
        }
    }

    public async Task PutFileAsync(string key, string path, string md5, CancellationToken ct)
    {
        Interlocked.Increment(ref Requests);
        if (Fault is not null)
            await Fault("put", key);
        var bytes = await File.ReadAllBytesAsync(path, ct);
        if (!string.Equals(Convert.ToHexStringLower(MD5.HashData(bytes)), md5, StringComparison.OrdinalIgnoreCase))
            throw new ObjectStoreException($"put {key}: content does not match its MD5 (the file changed during the upload)", transient: true);
        if (BeforeStore is not null)
            await BeforeStore(key);
        _objects[key] = bytes;
    }

    public async Task<string> PutStreamAsync(string key, Func<Stream> open, long length, CancellationToken ct)
    {
        Interlocked.Increment(ref Requests);
        if (Fault is not null)
            await Fault("put", key);
        await using var source = open();
        using var copy = new MemoryStream();
        await source.CopyToAsync(copy, ct);
        if (copy.Length != length)
            throw new ObjectStoreException($"put {key}: {copy.Length} bytes read, {length} declared (its file changed during the upload)", transient: true);
        _objects[key] = copy.ToArray();
        return Convert.ToHexStringLower(MD5.HashData(_objects[key]));
    }

    public async Task DeleteAsync(string key, CancellationToken ct)
    {
        Interlocked.Increment(ref Requests);
        if (Fault is not null)
            await Fault("delete", key);
        _objects.TryRemove(key, out _);
    }

    public async Task<string?> StoredMd5Async(string key, CancellationToken ct)
    {
        if (Fault is not null)
            await Fault("head", key);
        return _objects.TryGetValue(key, out var bytes) ? Convert.ToHexStringLower(MD5.HashData(bytes)) : null;
    }

    public async Task GetFileAsync(string key, string path, CancellationToken ct)
    {
        Interlocked.Increment(ref Requests);
        if (Fault is not null)
            await Fault("get", key);
        if (!_objects.TryGetValue(key, out var bytes))
            throw new ObjectStoreException("no such object: " + key, transient: false);
        await File.WriteAllBytesAsync(path, bytes, ct);
    }
}
