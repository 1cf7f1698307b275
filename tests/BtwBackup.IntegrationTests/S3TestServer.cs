using System.Diagnostics;
using BtwBackup.ObjectStore;
using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>
/// The S3-compatible test server (s3rver with the fixes of tests/s3-server/server.js), started
/// on a free loopback port with its storage in a temp folder, for one test collection.
/// </summary>
public sealed class S3TestServer : IAsyncLifetime
{
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";
    public const string Bucket = "backups";

    private Process? _process;

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("btw-s3-").FullName;

    public int Port { get; private set; }

    public string Endpoint => $"http://127.0.0.1:{Port}";

    public async Task InitializeAsync()
    {
        var script = Path.Combine(RepoRoot(), "tests", "s3-server", "server.js");
        Port = Sandbox.FreePort();
        var start = new ProcessStartInfo("node", [script, "--port", Port.ToString(), "--directory", Directory, "--bucket", Bucket, "--bucket", "other"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["NODE_OPTIONS"] = "--openssl-legacy-provider";
        _process = Process.Start(start) ?? throw new InvalidOperationException("cannot start node");
        var ready = await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (ready is null || !ready.StartsWith("ready", StringComparison.Ordinal))
            throw new InvalidOperationException("the S3 test server did not start: " + await _process.StandardError.ReadToEndAsync());
        _ = _process.StandardError.ReadToEndAsync();
    }

    public S3Connection Connection(string bucket = Bucket) => new(bucket, Endpoint, "us-east-1", AccessKey, SecretKey, ServerSideEncryption: true);

    /// <summary>An s3cmd configuration for independent checks of what the server holds.</summary>
    public string S3cmdConfig(string dir)
    {
        var path = Path.Combine(dir, "s3cmd.cfg");
        File.WriteAllText(path, $"""
            [default]
            access_key = {AccessKey}
            secret_key = {SecretKey}
            host_base = 127.0.0.1:{Port}
            host_bucket = 127.0.0.1:{Port}
            use_https = False
            signature_v2 = False
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
        System.IO.Directory.Delete(Directory, recursive: true);
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

[CollectionDefinition(Name)]
public sealed class S3Collection : ICollectionFixture<S3TestServer>
{
    public const string Name = "s3";
}
