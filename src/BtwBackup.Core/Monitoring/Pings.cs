using System.Net.Http.Headers;
using System.Text;
using BtwBackup.Config;

namespace BtwBackup.Monitoring;

/// <summary>One ping: a POST of <see cref="Body"/> (may be empty) to <see cref="Url"/>.</summary>
public sealed record Ping(Uri Url, string Body, string ContentType = "text/plain; charset=utf-8");

/// <summary>Sends pings; throws when one could not be delivered after its tries.</summary>
public interface IPingSender
{
    Task SendAsync(Ping ping, CancellationToken cancel);
}

/// <summary>
/// Pings over HTTP: each try bounded by monitoring.timeout, retried monitoring.retries times
/// after 1 s, 2 s, 4 s...; a reply other than 2xx is a failure. Never follows a redirect to
/// another scheme (a ping of https must not leave in clear).
/// </summary>
public sealed class HttpPingSender(MonitoringSettings settings) : IPingSender, IDisposable
{
    private readonly HttpClient _client = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, UseProxy = true })
    {
        Timeout = settings.Timeout,
    };

    public async Task SendAsync(Ping ping, CancellationToken cancel)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var content = new StringContent(ping.Body, Encoding.UTF8);
                content.Headers.ContentType = MediaTypeHeaderValue.Parse(ping.ContentType);
                using var response = await _client.PostAsync(ping.Url, content, cancel);
                if (response.IsSuccessStatusCode)
                    return;
                throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }
            catch (Exception e) when (attempt < settings.Retries && !cancel.IsCancellationRequested && e is HttpRequestException or TaskCanceledException)
            {
                await Task.Delay(TimeSpan.FromSeconds(1 << attempt), cancel);
            }
        }
    }

    public void Dispose() => _client.Dispose();
}

/// <summary>What the monitoring is told, as pings: pure, so that each case is tested without a network.</summary>
public static class PingPlan
{
    /// <summary>healthchecks.io's limit of a ping's body; the tail of the log is cut to fit.</summary>
    public const int BodyLimit = 100_000;

    /// <summary>healthchecks' URL for an event: URL/start, URL, URL/fail.</summary>
    public static Uri Healthchecks(Uri check, string? suffix)
    {
        if (suffix is null)
            return check;
        var builder = new UriBuilder(check);
        builder.Path = builder.Path.TrimEnd('/') + "/" + suffix;
        return builder.Uri;
    }

    /// <summary>A failure's body: what failed, then the last lines of the log, within <see cref="BodyLimit"/> bytes.</summary>
    public static string FailureBody(IEnumerable<string> failures, string logTail)
    {
        var head = string.Join("\n", failures) + "\n";
        var room = BodyLimit - Encoding.UTF8.GetByteCount(head) - 64;
        if (room <= 0)
            return Cut(head, BodyLimit);
        var tail = Cut(logTail, room, fromEnd: true);
        return tail.Length == 0 ? head : head + "\n--- the last lines of the log ---\n" + tail;
    }

    /// <summary>The last <paramref name="bytes"/> bytes of the file at most, from the start of a line; "" when it cannot be read.</summary>
    public static string LogTail(string path, int bytes = BodyLimit)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var start = Math.Max(0, stream.Length - bytes);
            stream.Seek(start, SeekOrigin.Begin);
            var buffer = new byte[stream.Length - start];
            stream.ReadExactly(buffer);
            var text = Encoding.UTF8.GetString(buffer);
            return start > 0 && text.IndexOf('\n') is >= 0 and var newline ? text[(newline + 1)..] : text;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>At most <paramref name="bytes"/> bytes of UTF-8 (a character cut in two becomes one replacement character, within the margin); from the end, from the start of a line.</summary>
    private static string Cut(string text, int bytes, bool fromEnd = false)
    {
        var encoded = Encoding.UTF8.GetBytes(text);
        if (encoded.Length <= bytes)
            return text;
        var keep = Math.Max(0, bytes - 8);
        var cut = Encoding.UTF8.GetString(fromEnd ? encoded[^keep..] : encoded[..keep]);
        return fromEnd && cut.IndexOf('\n') is >= 0 and var newline ? cut[(newline + 1)..] : cut;
    }
}
