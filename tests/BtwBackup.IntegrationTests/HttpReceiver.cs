using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace BtwBackup.IntegrationTests;

/// <summary>One request a <see cref="HttpReceiver"/> got.</summary>
public sealed record Received(string Method, string Path, string ContentType, string Body);

/// <summary>
/// A local HTTP server on a free loopback port that records every request and answers 200, as
/// healthchecks or a webhook would: what btw-backup sent is read back by content.
/// </summary>
public sealed class HttpReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<Received> _received = new();
    private readonly Task _loop;

    public HttpReceiver()
    {
        Port = Sandbox.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public string Url(string path) => $"http://127.0.0.1:{Port}/{path.TrimStart('/')}";

    public IReadOnlyList<Received> All => [.. _received];

    /// <summary>Waits until <paramref name="count"/> requests have come (pings leave in the background), at most 30 s.</summary>
    public async Task<IReadOnlyList<Received>> WaitForAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (_received.Count < count && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        return All;
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
                _received.Enqueue(new Received(context.Request.HttpMethod, context.Request.Url!.AbsolutePath, context.Request.ContentType ?? "", await reader.ReadToEndAsync()));
            context.Response.StatusCode = 200;
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        // Close alone: Stop then Close makes the managed listener remove its endpoint twice, and
        // the second removal binds the port again (failing with "Address already in use" when
        // another test took the freed port meanwhile).
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
