using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using BtwBackup.ObjectStore;
using Xunit;

namespace BtwBackup.Tests.ObjectStore;

/// <summary>
/// What an upload puts on the wire, read by a raw HTTP/1.1 listener: a small body goes with its
/// headers, a large one waits for the server's "100 Continue", and both carry the Content-MD5
/// that binds them, among the signed headers.
/// </summary>
public sealed class S3HttpClientsTests : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-http-").FullName;

    public S3HttpClientsTests() => _listener.Start();

    public void Dispose()
    {
        _listener.Stop();
        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData(16_000, false)]
    [InlineData(S3HttpClients.ContinueAbove, false)]
    [InlineData(S3HttpClients.ContinueAbove + 1, true)]
    public async Task Only_a_body_above_the_threshold_waits_for_100_continue(long size, bool expects)
    {
        var content = RandomNumberGenerator.GetBytes((int)size);
        using var store = StoreOnListener();

        var served = ServeOnePutAsync();
        await Task.WhenAll(served, store.PutFileAsync("k", FileWith(content), Md5Of(content), CancellationToken.None));
        var (head, body) = await served;

        Assert.Equal(expects, head.Contains("\r\nExpect: 100-continue\r\n", StringComparison.OrdinalIgnoreCase));
        Assert.Contains($"\r\nContent-MD5: {Convert.ToBase64String(MD5.HashData(content))}\r\n", head, StringComparison.OrdinalIgnoreCase);
        Assert.Matches("SignedHeaders=[^,\r]*content-md5", head);
        Assert.Equal(content, body);
    }

    /// <summary>
    /// Over HTTPS a body goes unsigned (bound by its signed Content-MD5), unless the destination
    /// asks for signed bodies; over plain HTTP the SDK signs it (a SHA-256 of the body).
    /// </summary>
    [Theory]
    [InlineData("https", false, "UNSIGNED-PAYLOAD")]
    [InlineData("https", true, "sha256")]
    [InlineData("http", false, "sha256")]
    public async Task The_body_is_signed_only_over_http_or_when_asked(string scheme, bool signPayload, string expected)
    {
        var content = RandomNumberGenerator.GetBytes(5000);
        using var certificate = SelfSigned();
        using var store = StoreOnListener(scheme, signPayload);

        var served = ServeOnePutAsync(scheme == "https" ? certificate : null);
        await Task.WhenAll(served, store.PutFileAsync("k", FileWith(content), Md5Of(content), CancellationToken.None));
        var (head, _) = await served;

        var sent = head.Split("\r\n").Single(l => l.StartsWith("x-amz-content-sha256:", StringComparison.OrdinalIgnoreCase))[21..].Trim();
        Assert.Equal(expected == "sha256" ? Convert.ToHexStringLower(SHA256.HashData(content)) : expected, sent);
        Assert.Matches("SignedHeaders=[^,\r]*content-md5", head);
    }

    /// <summary>A store whose server is this test's listener (over HTTPS: whatever certificate it shows).</summary>
    private S3ObjectStore StoreOnListener(string scheme = "http", bool signPayload = false, TimeSpan? timeout = null) => new(
        new S3Connection("b", $"{scheme}://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}", "us-east-1", "AK", "SK", ServerSideEncryption: false) { SignPayload = signPayload },
        scheme == "https" ? new TrustingAnyCertificate() : null, timeout);

    /// <summary>The file the upload sends.</summary>
    private string FileWith(ReadOnlySpan<byte> content)
    {
        var path = Path.Combine(_dir, "f");
        File.WriteAllBytes(path, content);
        return path;
    }

    private static string Md5Of(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(MD5.HashData(content));

    private sealed class TrustingAnyCertificate : S3HttpClients
    {
        protected override string Variant => "any";

        protected override void Configure(SocketsHttpHandler handler) =>
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>A server that does not check Content-MD5 (S3 does, the test server too): the ETag it answers, the MD5 of what it stored, gives it away.</summary>
    [Fact]
    public async Task A_server_that_stores_other_content_than_announced_is_caught_by_its_etag()
    {
        using var store = StoreOnListener();
        var served = ServeOnePutAsync();
        var e = await Assert.ThrowsAsync<ObjectStoreException>(() => store.PutFileAsync("k", FileWith("changed since it was hashed"u8), Md5Of("as it was hashed"u8), CancellationToken.None));
        await served;
        Assert.StartsWith("put k: the server stored other content than sent (MD5 ", e.Message);
        Assert.True(e.Transient);
    }

    [Fact]
    public async Task A_request_the_server_never_answers_times_out_as_a_transient_store_error()
    {
        using var store = StoreOnListener(timeout: TimeSpan.FromSeconds(1));
        var accepted = _listener.AcceptTcpClientAsync();
        var e = await Assert.ThrowsAsync<ObjectStoreException>(() => store.PutFileAsync("k", FileWith("x"u8), Md5Of("x"u8), CancellationToken.None));
        Assert.True(e.Transient);
        Assert.StartsWith("put k: ", e.Message);
        (await accepted).Dispose();
    }

    /// <summary>Answers one PUT as S3 does (a "100 Continue" first when asked, then the body's MD5 as its ETag), over TLS with <paramref name="tls"/>; its head and body.</summary>
    private async Task<(string Head, byte[] Body)> ServeOnePutAsync(X509Certificate2? tls = null)
    {
        using var client = await _listener.AcceptTcpClientAsync();
        await using var ssl = tls is null ? null : new SslStream(client.GetStream());
        if (ssl is not null)
            await ssl.AuthenticateAsServerAsync(tls!);
        Stream stream = ssl ?? (Stream)client.GetStream();

        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int end;
        while ((end = IndexOfHeadEnd(received)) < 0)
        {
            var n = await stream.ReadAsync(buffer);
            Assert.True(n > 0, "the connection closed before the request's head");
            received.Write(buffer, 0, n);
        }

        var head = Encoding.ASCII.GetString(received.GetBuffer(), 0, end);
        var length = long.Parse(head.Split("\r\n").Single(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))[15..].Trim());
        if (head.Contains("\r\nExpect: 100-continue\r\n", StringComparison.OrdinalIgnoreCase))
            await stream.WriteAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray());
        var body = new MemoryStream();
        body.Write(received.GetBuffer(), end + 4, (int)received.Length - end - 4);
        while (body.Length < length)
        {
            var n = await stream.ReadAsync(buffer);
            Assert.True(n > 0, "the connection closed before the body's end");
            body.Write(buffer, 0, n);
        }

        var etag = Convert.ToHexStringLower(MD5.HashData(body.ToArray()));
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nETag: \"{etag}\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        return (head + "\r\n", body.ToArray());
    }

    private static int IndexOfHeadEnd(MemoryStream received) =>
        received.GetBuffer().AsSpan(0, (int)received.Length).IndexOf("\r\n\r\n"u8);
}
