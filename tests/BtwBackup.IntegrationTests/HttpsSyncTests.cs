using System.Security.Cryptography;
using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>
/// The off-site copy over HTTPS, as with a self-hosted server behind a private CA: the bodies go
/// unsigned there (each bound by its signed Content-MD5), and what lands is checked by content
/// with another client. A server whose certificate is not trusted gets nothing.
/// </summary>
public sealed class HttpsSyncTests : IClassFixture<TlsS3TestServer>, IDisposable
{
    private readonly TlsS3TestServer _s3;
    private readonly Sandbox _box = new();
    private readonly string _prefix = "h" + Guid.NewGuid().ToString("N")[..10] + "/";

    public HttpsSyncTests(TlsS3TestServer s3)
    {
        _s3 = s3;
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            destinations {
              offsite { uri = "s3://{{S3TestServer.Bucket}}/{{_prefix}}", s3cmd-config = "{{_s3.S3cmdConfig(_box.Dir)}}" }
            }
            """);
    }

    public void Dispose() => _box.Dispose();

    private void Trust() => _box.Environment = new Dictionary<string, string?> { ["SSL_CERT_FILE"] = _s3.CaBundle(_box.Dir) };

    private void Write(string rel, byte[] content)
    {
        var path = Path.Combine(_box.Root, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
    }

    [Fact]
    public async Task Sync_over_https_stores_every_file_byte_exact_and_catches_a_same_size_rewrite()
    {
        Trust();
        Write("empty", []);
        Write("www/page.html", RandomNumberGenerator.GetBytes(70_000));
        Write("db/shop.dump", RandomNumberGenerator.GetBytes(9 << 20));
        var r = await _box.RunAsync("sync", "--full");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(Sandbox.FileHashes(_box.Root), await _s3.DownloadAsync(_prefix, _box.Dir));

        // Same size, same mtime, other bytes: caught, and sent again.
        var page = Path.Combine(_box.Root, "www/page.html");
        var mtime = File.GetLastWriteTimeUtc(page);
        Write("www/page.html", RandomNumberGenerator.GetBytes(70_000));
        File.SetLastWriteTimeUtc(page, mtime);
        r = await _box.RunAsync("sync", "--full");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(Sandbox.FileHashes(_box.Root), await _s3.DownloadAsync(_prefix, _box.Dir));
    }

    [Fact]
    public async Task A_server_whose_certificate_is_not_trusted_gets_nothing_and_the_work_stays_pending()
    {
        Write("www/page.html", RandomNumberGenerator.GetBytes(1000));
        var r = await _box.RunAsync("sync", "--full");
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.Stderr.TrimEnd('\n').Split('\n'));
        Assert.StartsWith($"btw-backup: sync of . to offsite failed: list {_prefix}: TLS: The remote certificate is invalid", line);
        Assert.EndsWith("(a server with a private CA is trusted through SSL_CERT_FILE)", line);
        Assert.Empty(await _s3.DownloadAsync(_prefix, _box.Dir));
        Assert.Equal("Must sync: .\n", (await _box.RunAsync("sync-state", "--list")).Stdout);

        // Trusted, the next plain sync finishes the work left.
        Trust();
        r = await _box.RunAsync("sync");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(Sandbox.FileHashes(_box.Root), await _s3.DownloadAsync(_prefix, _box.Dir));
        Assert.Equal("", (await _box.RunAsync("sync-state", "--list")).Stdout);
    }
}
