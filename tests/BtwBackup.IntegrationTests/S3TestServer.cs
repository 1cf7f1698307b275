using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BtwBackup.ObjectStore;
using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>
/// The S3-compatible test server (s3rver with the fixes of tests/s3-server/server.js), started
/// on a free loopback port with its storage in a temp folder, for one test collection; over
/// HTTPS with a certificate of its own in <see cref="TlsS3TestServer"/>.
/// </summary>
public class S3TestServer : IAsyncLifetime
{
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";
    public const string Bucket = "backups";

    private Process? _process;

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("btw-s3-").FullName;

    public int Port { get; private set; }

    /// <summary>The certificate it serves HTTPS with; null: plain HTTP.</summary>
    protected X509Certificate2? Certificate { get; init; }

    // Its certificate and key, apart from the bucket folder (which the server owns).
    private readonly string _tlsDir = System.IO.Directory.CreateTempSubdirectory("btw-s3-tls-").FullName;

    /// <summary>Where its certificate (PEM) is, for clients told to trust it.</summary>
    public string CertificateFile => Path.Combine(_tlsDir, "server.crt");

    public string Endpoint => $"{(Certificate is null ? "http" : "https")}://127.0.0.1:{Port}";

    public async Task InitializeAsync()
    {
        var script = Path.Combine(RepoRoot(), "tests", "s3-server", "server.js");
        // Port 0: the server binds a free port and says which (no window for another process to take it).
        List<string> args = [script, "--port", "0", "--directory", Directory, "--bucket", Bucket, "--bucket", "other"];
        if (Certificate is not null)
        {
            var key = Path.Combine(_tlsDir, "server.key");
            File.WriteAllText(CertificateFile, Certificate.ExportCertificatePem());
            using var privateKey = Certificate.GetECDsaPrivateKey()!;
            File.WriteAllText(key, privateKey.ExportPkcs8PrivateKeyPem());
            args.AddRange(["--tls-cert", CertificateFile, "--tls-key", key]);
        }

        var start = new ProcessStartInfo("node", args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["NODE_OPTIONS"] = "--openssl-legacy-provider";
        _process = Process.Start(start) ?? throw new InvalidOperationException("cannot start node");
        var ready = await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (ready is null || !ready.StartsWith("ready ", StringComparison.Ordinal) || !int.TryParse(ready[6..], out var port))
            throw new InvalidOperationException("the S3 test server did not start: " + await _process.StandardError.ReadToEndAsync());
        Port = port;
        _ = _process.StandardError.ReadToEndAsync();
    }

    public S3Connection Connection(string bucket = Bucket) => new(bucket, Endpoint, "us-east-1", AccessKey, SecretKey, ServerSideEncryption: true);

    /// <summary>A store on <see cref="Connection"/> that trusts this server's certificate (and only it) when it serves HTTPS.</summary>
    public S3ObjectStore Store(long multipartAbove = S3ObjectStore.SinglePutLimit) =>
        new(Connection(), Certificate is null ? null : new PinnedHttpClients(Certificate)) { MultipartAbove = multipartAbove };

    private sealed class PinnedHttpClients(X509Certificate2 certificate) : S3HttpClients
    {
        protected override string Variant => certificate.Thumbprint;

        protected override void Configure(SocketsHttpHandler handler) =>
            handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetRawCertData().AsSpan().SequenceEqual(certificate.RawData);
    }

    /// <summary>An s3cmd configuration for independent checks of what the server holds.</summary>
    public string S3cmdConfig(string dir)
    {
        var path = Path.Combine(dir, "s3cmd.cfg");
        File.WriteAllText(path, $$"""
            [default]
            access_key = {{AccessKey}}
            secret_key = {{SecretKey}}
            host_base = 127.0.0.1:{{Port}}
            host_bucket = 127.0.0.1:{{Port}}
            use_https = {{(Certificate is null ? "False" : "True")}}
            signature_v2 = False
            {{(Certificate is null ? "" : "ca_certs_file = " + CertificateFile)}}
            """);
        return path;
    }

    /// <summary>Downloads everything under a prefix with s3cmd (an independent client) and gives each file's content hash.</summary>
    public async Task<SortedDictionary<string, string>> DownloadAsync(string prefix, string workDir, string bucket = Bucket)
    {
        var target = Path.Combine(workDir, "remote-" + Guid.NewGuid().ToString("N")[..6]);
        System.IO.Directory.CreateDirectory(target);
        var r = await Sandbox.ShellAsync("s3cmd", "-c", S3cmdConfig(workDir), "--quiet", "get", "--recursive", $"s3://{bucket}/{prefix}", target + "/");
        if (r.ExitCode != 0)
            throw new Xunit.Sdk.XunitException("s3cmd get failed: " + r);
        return Sandbox.FileHashes(target);
    }

    public Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process?.Dispose();
        System.IO.Directory.Delete(_tlsDir, recursive: true);
        System.IO.Directory.Delete(Directory, recursive: true);
        Certificate?.Dispose();
        return Task.CompletedTask;
    }

    internal static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "BtwBackup.sln")))
                return d.FullName;
        }

        throw new InvalidOperationException("repository root not found");
    }
}

/// <summary>
/// The S3 test server over HTTPS, with a self-signed certificate for 127.0.0.1 made for it. A
/// btw-backup process trusts it through SSL_CERT_FILE (<see cref="CaBundle"/>), as an
/// administrator trusts a private CA; s3cmd through ca_certs_file.
/// </summary>
public sealed class TlsS3TestServer : S3TestServer
{
    public TlsS3TestServer()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>The system's CAs and this server's certificate, for SSL_CERT_FILE.</summary>
    public string CaBundle(string dir)
    {
        var path = Path.Combine(dir, "ca-bundle.pem");
        const string system = "/etc/ssl/certs/ca-certificates.crt";
        File.WriteAllText(path, (File.Exists(system) ? File.ReadAllText(system) + "\n" : "") + File.ReadAllText(CertificateFile));
        return path;
    }
}

[CollectionDefinition(Name)]
public sealed class S3Collection : ICollectionFixture<S3TestServer>
{
    public const string Name = "s3";
}
