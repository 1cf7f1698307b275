using BtwBackup.ObjectStore;
using BtwBackup.Testing;
using Xunit;

namespace BtwBackup.Tests.Sync;

public sealed class RetryingObjectStoreTests : IDisposable
{
    private readonly string _file = Path.GetTempFileName();

    public void Dispose() => File.Delete(_file);

    private const string Md5OfEmpty = "d41d8cd98f00b204e9800998ecf8427e";

    [Fact]
    public async Task Transient_failures_are_retried_until_success()
    {
        var failures = 2;
        var inner = new InMemoryObjectStore { Fault = (op, _) => op == "put" && failures-- > 0 ? throw new ObjectStoreException("put: 503 SlowDown", transient: true) : Task.CompletedTask };
        var log = new List<string>();
        var store = new RetryingObjectStore(inner, attempts: 5, firstDelay: TimeSpan.FromMilliseconds(1), log: log.Add);
        await store.PutFileAsync("k", _file, Md5OfEmpty, CancellationToken.None);
        Assert.True(inner.Objects.ContainsKey("k"));
        Assert.Equal(3, inner.Requests);
        Assert.Equal(2, log.Count);
        Assert.All(log, l => Assert.StartsWith("put: 503 SlowDown: retrying in ", l));
    }

    [Fact]
    public async Task Permanent_failures_go_through_at_once_and_transient_ones_after_the_last_attempt()
    {
        var permanent = new InMemoryObjectStore { Fault = (_, _) => throw new ObjectStoreException("put: 403 AccessDenied", transient: false) };
        await Assert.ThrowsAsync<ObjectStoreException>(() => new RetryingObjectStore(permanent, 5, TimeSpan.FromMilliseconds(1)).PutFileAsync("k", _file, Md5OfEmpty, CancellationToken.None));
        Assert.Equal(1, permanent.Requests);

        var transient = new InMemoryObjectStore { Fault = (_, _) => throw new ObjectStoreException("delete: timeout", transient: true) };
        await Assert.ThrowsAsync<ObjectStoreException>(() => new RetryingObjectStore(transient, 3, TimeSpan.FromMilliseconds(1)).DeleteAsync("k", CancellationToken.None));
        Assert.Equal(3, transient.Requests);
    }

    [Fact]
    public async Task A_listing_that_fails_midway_is_restarted_whole()
    {
        var inner = new InMemoryObjectStore { PageSize = 2 };
        foreach (var k in new[] { "a", "b", "c", "d", "e" })
            await inner.PutFileAsync(k, _file, Md5OfEmpty, CancellationToken.None);
        var lists = 0;
        inner.Fault = (op, _) => op == "list" && ++lists == 2 ? throw new ObjectStoreException("list: reset", transient: true) : Task.CompletedTask;
        var keys = new List<string>();
        await foreach (var o in new RetryingObjectStore(inner, 3, TimeSpan.FromMilliseconds(1)).ListAsync("", CancellationToken.None))
            keys.Add(o.Key);
        Assert.Equal(["a", "b", "c", "d", "e"], keys);
    }
}
