using System.Net;
using System.Net.Sockets;
using System.Text;
using BtwBackup.Config;
using BtwBackup.Monitoring;
using Xunit;

namespace BtwBackup.Tests.Monitoring;

/// <summary>Pings against a hostile server on a local socket: one that answers forever, one that never answers.</summary>
public sealed class HttpPingSenderTests : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();

    public HttpPingSenderTests() => _listener.Start();

    private Uri Url => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/ping/abc");

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }

    /// <summary>Serves every connection with <paramref name="serve"/> until the test ends.</summary>
    private void Serve(Func<NetworkStream, CancellationToken, Task> serve) => _ = Task.Run(async () =>
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        await serve(client.GetStream(), _stop.Token);
                    }
                    catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
                    {
                        // The client went away: what the test wants.
                    }
                }
            });
        }
    });

    private static async Task ReadRequestAsync(NetworkStream stream, CancellationToken cancel)
    {
        var buffer = new byte[65536];
        var seen = new StringBuilder();
        while (!seen.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer, cancel);
            if (n == 0)
                return;
            seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    [Fact]
    public async Task A_reply_of_endless_bytes_is_never_read_a_2xx_is_enough()
    {
        long sent = 0;
        Serve(async (stream, cancel) =>
        {
            await ReadRequestAsync(stream, cancel);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n"), cancel);
            var chunk = new byte[1 << 20];
            while (true)
            {
                await stream.WriteAsync(chunk, cancel);
                Interlocked.Add(ref sent, chunk.Length);
            }
        });
        using var sender = new HttpPingSender(new MonitoringSettings(null, null, TimeSpan.FromSeconds(30), 0));

        await sender.SendAsync(new Ping(Url, "body"), CancellationToken.None);

        // Done with what the socket buffers hold, not with 100 GB.
        Assert.InRange(Interlocked.Read(ref sent), 0, 256L << 20);
    }

    [Fact]
    public async Task A_server_that_never_answers_is_a_failure_that_says_so_after_each_try()
    {
        Serve(async (stream, cancel) =>
        {
            await ReadRequestAsync(stream, cancel);
            await Task.Delay(Timeout.Infinite, cancel);
        });
        using var sender = new HttpPingSender(new MonitoringSettings(null, null, TimeSpan.FromMilliseconds(300), 1));

        var e = await Assert.ThrowsAsync<TimeoutException>(() => sender.SendAsync(new Ping(Url, "body"), CancellationToken.None));
        Assert.Equal("no reply within 0.3 s, 2 tries", e.Message);
    }
}
