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
/// another scheme (a ping of https must not leave in clear). The reply's body is never read: a
/// server that answers with gigabytes costs nothing but the connection.
/// </summary>
public sealed class HttpPingSender(MonitoringSettings settings) : IPingSender, IDisposable
{
    private readonly HttpClient _client = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = true,
        MaxResponseHeadersLength = 64,
        MaxResponseDrainSize = 0,
    })
    {
        Timeout = settings.Timeout,
        MaxResponseContentBufferSize = 64 * 1024,
    };

    public async Task SendAsync(Ping ping, CancellationToken cancel)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var content = new StringContent(ping.Body, Encoding.UTF8);
                content.Headers.ContentType = MediaTypeHeaderValue.Parse(ping.ContentType);
                using var request = new HttpRequestMessage(HttpMethod.Post, ping.Url) { Content = content };
                using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel);
                if (response.IsSuccessStatusCode)
                    return;
                throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }
            catch (TaskCanceledException) when (!cancel.IsCancellationRequested && attempt >= settings.Retries)
            {
                throw new TimeoutException($"no reply within {settings.Timeout.TotalSeconds:0.#} s, {attempt + 1} tries");
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

    /// <summary>
    /// The log's lines of one run, the last <see cref="BodyLimit"/> bytes at most: entries of this
    /// process written since <paramref name="since"/> by the actors doing the work (of one source's
    /// actor when <paramref name="source"/> is given), with their continuation lines. The commands
    /// that users sent the daemon, the CLI's lines and other processes' lines stay out: the ping
    /// goes to a third party. "" when the log cannot be read.
    /// </summary>
    public static string LogTail(string path, DateTime since, string? source = null, int pid = 0)
    {
        string text;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            // The run's lines are among the last few megabytes; what is older is not read.
            var start = Math.Max(0, stream.Length - (8 * BodyLimit));
            stream.Seek(start, SeekOrigin.Begin);
            var buffer = new byte[stream.Length - start];
            stream.ReadExactly(buffer);
            text = Encoding.UTF8.GetString(buffer);
            if (start > 0 && text.IndexOf('\n') is >= 0 and var newline)
                text = text[(newline + 1)..];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }

        var process = $" [{(pid == 0 ? Environment.ProcessId : pid)}] ";
        var actor = source is null ? null : "/source-" + Uri.EscapeDataString(source);
        var kept = new StringBuilder();
        var keeping = false;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0)
                continue;
            if (line[0] is ' ' or '\t')
            {
                if (keeping)
                    kept.Append(line).Append('\n');
                continue;
            }

            keeping = IsRunLine(line, since, process, actor);
            if (keeping)
                kept.Append(line).Append('\n');
        }

        return Cut(kept.ToString(), BodyLimit, fromEnd: true);
    }

    /// <summary>"TIME LEVEL [PID] SOURCE: message" of this process, at or after the run's start, from an actor under /user (not the gateway), of the source's actor when named.</summary>
    private static bool IsRunLine(string line, DateTime since, string process, string? actor)
    {
        const int TimeLength = 24;
        if (line.Length < TimeLength || !DateTime.TryParseExact(line[..TimeLength], "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal, out var at)
            || at < since.ToUniversalTime().AddSeconds(-1))
            return false;
        var pid = line.IndexOf(process, TimeLength, StringComparison.Ordinal);
        var colon = pid < 0 ? -1 : line.IndexOf(": ", pid + process.Length, StringComparison.Ordinal);
        if (colon < 0)
            return false;
        var from = line[(pid + process.Length)..colon];
        if (!from.Contains("/user/", StringComparison.Ordinal) || from.Contains("/user/gateway", StringComparison.Ordinal))
            return false;
        if (actor is null)
            return true;
        var found = from.IndexOf(actor, StringComparison.Ordinal);
        return found >= 0 && (found + actor.Length == from.Length || from[found + actor.Length] == '/');
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
