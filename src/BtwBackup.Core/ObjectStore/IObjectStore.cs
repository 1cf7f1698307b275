namespace BtwBackup.ObjectStore;

/// <summary>An object as a listing shows it. <see cref="ContentMd5"/> is the hex MD5 of its content when known.</summary>
public sealed record RemoteObject(string Key, long Size, string? ContentMd5)
{
    /// <summary>The object's ETag as the listing gives it, without quotes: what identifies one upload of it (null where the store has none).</summary>
    public string? ETag { get; init; }
}

/// <summary>
/// Where backups are mirrored: the few operations a mirror needs. The contract (checked by one
/// test suite against every implementation):
/// <list type="bullet">
/// <item>List returns every key under the prefix, each once, in byte order, whatever the number of pages;</item>
/// <item>Put stores the file's bytes exactly, or throws (a body that does not match its MD5 is an error);</item>
/// <item>after Put returns, List and Get see the new content;</item>
/// <item>Delete of a missing key succeeds;</item>
/// <item>failures throw <see cref="ObjectStoreException"/>, marked transient when a retry may succeed.</item>
/// </list>
/// </summary>
public interface IObjectStore
{
    IAsyncEnumerable<RemoteObject> ListAsync(string prefix, CancellationToken ct);

    /// <summary>Uploads a local file under a key; <paramref name="md5"/> is its content's MD5 (hex), checked by the store.</summary>
    Task PutFileAsync(string key, string path, string md5, CancellationToken ct);

    /// <summary>
    /// Uploads the bytes <paramref name="open"/> reads (exactly <paramref name="length"/> of them:
    /// content generated on the fly, such as a file's encryption), checked by the store against
    /// the MD5 of what was read; returns the stored object's ETag as listings give it. Each
    /// attempt calls <paramref name="open"/> anew.
    /// </summary>
    Task<string> PutStreamAsync(string key, Func<Stream> open, long length, CancellationToken ct);

    Task DeleteAsync(string key, CancellationToken ct);

    /// <summary>The MD5 of an object whose listing does not show it (a multipart upload): from the metadata btw-backup stored with it, or null.</summary>
    Task<string?> StoredMd5Async(string key, CancellationToken ct);

    /// <summary>Downloads an object into a local file (restore, verification).</summary>
    Task GetFileAsync(string key, string path, CancellationToken ct);
}

/// <summary>A failed store operation; <see cref="Transient"/> when a retry may succeed (5xx, timeouts, resets).</summary>
public sealed class ObjectStoreException(string message, bool transient, Exception? inner = null) : Exception(message, inner)
{
    public bool Transient { get; } = transient;
}
