using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace BtwBackup.IntegrationTests;

/// <summary>
/// A fake S3 endpoint that says whatever a test wants: just enough of ListObjectsV2 (with
/// <c>encoding-type=url</c>, the only way a listing can carry a NUL) and GetObject/HeadObject for
/// AWSSDK.S3 to read it. It stands for a hostile or broken provider: its listings are not
/// filtered by the prefix asked for, so a key anywhere can be offered. It exists to inject
/// faults; the real behaviour is tested against the S3 test server.
/// </summary>
public sealed class HostileS3Server : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _serving;

    public HostileS3Server()
    {
        Port = Sandbox.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public int Port { get; }

    /// <summary>Every object, by key: what listings show and GetObject returns.</summary>
    public ConcurrentDictionary<string, byte[]> Objects { get; } = new(StringComparer.Ordinal);

    /// <summary>Keys offered in every listing whatever its prefix (a server that does not filter).</summary>
    public ConcurrentBag<string> AlwaysListed { get; } = [];

    /// <summary>What was asked, one line per request ("GET /bucket?list-type=2&amp;..."), for the tests to check that the fake was reached.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>An s3cmd configuration pointing at this server.</summary>
    public string S3cmdConfig(string dir)
    {
        var path = Path.Combine(dir, "hostile-s3cmd.cfg");
        File.WriteAllText(path, $"""
            [default]
            access_key = AK
            secret_key = SK
            host_base = 127.0.0.1:{Port}
            host_bucket = 127.0.0.1:{Port}
            use_https = False
            """);
        return path;
    }

    private async Task ServeAsync()
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

            try
            {
                await AnswerAsync(context);
            }
            catch (Exception e) when (e is HttpListenerException or IOException)
            {
                // The client went away.
            }
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var raw = request.RawUrl ?? "/";
        Requests.Enqueue($"{request.HttpMethod} {raw}");
        var pathPart = raw.Split('?')[0];
        var parts = pathPart.TrimStart('/').Split('/', 2);
        var query = request.QueryString;

        if (request.HttpMethod == "GET" && parts.Length == 1 || (parts.Length == 2 && parts[1].Length == 0 && query["list-type"] is not null))
        {
            var prefix = query["prefix"] ?? "";
            var encode = query["encoding-type"] == "url";
            var keys = Objects.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Concat(AlwaysListed).Distinct().Order(StringComparer.Ordinal).ToList();
            var xml = new StringBuilder();
            xml.Append("""<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">""");
            xml.Append($"<Name>{parts[0]}</Name><Prefix>{Escape(prefix, encode)}</Prefix><KeyCount>{keys.Count}</KeyCount><MaxKeys>1000</MaxKeys>");
            if (encode)
                xml.Append("<EncodingType>url</EncodingType>");
            xml.Append("<IsTruncated>false</IsTruncated>");
            foreach (var key in keys)
            {
                var body = Objects.TryGetValue(key, out var b) ? b : [];
                xml.Append($"<Contents><Key>{Escape(key, encode)}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
                    + $"<ETag>&quot;{Convert.ToHexStringLower(MD5.HashData(body))}&quot;</ETag><Size>{body.Length}</Size><StorageClass>STANDARD</StorageClass></Contents>");
            }

            xml.Append("</ListBucketResult>");
            await WriteAsync(response, 200, "application/xml", Encoding.UTF8.GetBytes(xml.ToString()));
            return;
        }

        if (parts.Length == 2 && request.HttpMethod is "GET" or "HEAD")
        {
            var key = Uri.UnescapeDataString(parts[1]);
            if (!Objects.TryGetValue(key, out var body))
            {
                await WriteAsync(response, 404, "application/xml", "<Error><Code>NoSuchKey</Code><Message>no such key</Message></Error>"u8.ToArray());
                return;
            }

            response.Headers["ETag"] = $"\"{Convert.ToHexStringLower(MD5.HashData(body))}\"";
            response.Headers["Last-Modified"] = "Thu, 01 Jan 2026 00:00:00 GMT";
            await WriteAsync(response, 200, "application/octet-stream", request.HttpMethod == "HEAD" ? null : body, body.Length);
            return;
        }

        // Anything else (a PUT, a DELETE) is refused: this server is only ever read.
        await WriteAsync(response, 403, "application/xml", "<Error><Code>AccessDenied</Code><Message>read only</Message></Error>"u8.ToArray());
    }

    /// <summary>A key as S3 writes it: URL-encoded when the client asked for encoding-type=url, else XML-escaped.</summary>
    private static string Escape(string key, bool encode) =>
        encode ? Uri.EscapeDataString(key).Replace("%2F", "/", StringComparison.Ordinal) : System.Security.SecurityElement.Escape(key)!;

    private static async Task WriteAsync(HttpListenerResponse response, int status, string type, byte[]? body, long? length = null)
    {
        response.StatusCode = status;
        response.ContentType = type;
        response.ContentLength64 = length ?? body?.Length ?? 0;
        if (body is not null)
            await response.OutputStream.WriteAsync(body);
        response.Close();
    }

    public void Dispose()
    {
        // Close alone: Stop then Close makes the managed listener remove its endpoint twice, and
        // the second removal binds the port again (failing with "Address already in use" when
        // another test took the freed port meanwhile).
        _listener.Close();
        try
        {
            _serving.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }
}
