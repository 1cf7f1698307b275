using System.Runtime.CompilerServices;

namespace BtwBackup.ObjectStore;

/// <summary>
/// Retries transient failures with exponential backoff and jitter; permanent ones go through at
/// once. A decorator, so the S3 store stays plain and tests drive the retries with a fault.
/// </summary>
public sealed class RetryingObjectStore(IObjectStore inner, int attempts = 5, TimeSpan? firstDelay = null, Action<string>? log = null) : IObjectStore
{
    private readonly TimeSpan _first = firstDelay ?? TimeSpan.FromMilliseconds(500);

    public async IAsyncEnumerable<RemoteObject> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken ct)
    {
        // A listing is read whole before it is used, so a retry restarts it cleanly.
        var objects = await Retry(async () =>
        {
            var list = new List<RemoteObject>();
            await foreach (var o in inner.ListAsync(prefix, ct))
                list.Add(o);
            return list;
        }, ct);
        foreach (var o in objects)
            yield return o;
    }

    public Task PutFileAsync(string key, string path, string md5, CancellationToken ct) =>
        Retry(async () => { await inner.PutFileAsync(key, path, md5, ct); return true; }, ct);

    public Task<string> PutStreamAsync(string key, Func<Stream> open, long length, CancellationToken ct) =>
        Retry(() => inner.PutStreamAsync(key, open, length, ct), ct);

    public Task DeleteAsync(string key, CancellationToken ct) =>
        Retry(async () => { await inner.DeleteAsync(key, ct); return true; }, ct);

    public Task<string?> StoredMd5Async(string key, CancellationToken ct) =>
        Retry(() => inner.StoredMd5Async(key, ct), ct);

    public Task GetFileAsync(string key, string path, CancellationToken ct) =>
        Retry(async () => { await inner.GetFileAsync(key, path, ct); return true; }, ct);

    private async Task<T> Retry<T>(Func<Task<T>> operation, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await operation();
            }
            catch (ObjectStoreException e) when (e.Transient && attempt < attempts)
            {
                var delay = _first * Math.Pow(2, attempt - 1) * (0.75 + Random.Shared.NextDouble() / 2);
                log?.Invoke($"{e.Message}: retrying in {delay.TotalSeconds:0.0}s ({attempt}/{attempts - 1})");
                await Task.Delay(delay, ct);
            }
        }
    }
}
