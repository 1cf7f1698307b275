using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CliWrap;
using CliWrap.Buffered;
using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>The outcome of one run of out/btw-backup.</summary>
public sealed record RunResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>
/// A throw-away world for one test: a configuration directory, a root, source trees, and the
/// published CLI run as a user would run it (no terminal, so no progress display).
/// </summary>
public sealed class Sandbox : IDisposable
{
    public Sandbox()
    {
        Dir = Directory.CreateTempSubdirectory("btw-it-").FullName;
        ConfigDir = Directory.CreateDirectory(Path.Combine(Dir, "config")).FullName;
        Root = Directory.CreateDirectory(Path.Combine(Dir, "root")).FullName;
        WriteConfig($"root-path = \"{Root}\"\n");
    }

    public string Dir { get; }

    public string ConfigDir { get; }

    public string Root { get; }

    /// <summary>Extra PATH entries placed first (fault-injecting wrappers), or a PATH that replaces the real one.</summary>
    public string? PathOverride { get; set; }

    /// <summary>Extra environment for the CLI (e.g. PGHOST and PGPORT of the test cluster).</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; set; } = new Dictionary<string, string?>();

    public static string Exe { get; } = FindExe();

    private static string FindExe()
    {
        var fromEnv = System.Environment.GetEnvironmentVariable("BTW_BACKUP_EXE");
        if (!string.IsNullOrEmpty(fromEnv))
            return fromEnv;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "out", "btw-backup");
            if (File.Exists(candidate))
                return candidate;
        }

        throw new InvalidOperationException("out/btw-backup not found: run ./run.sh build first");
    }

    public void WriteConfig(string text) => File.WriteAllText(Path.Combine(ConfigDir, "btw-backup.conf"), text);

    /// <summary>How long one run may take before it is killed and the test fails naming it: a hang fails one test, never the whole suite.</summary>
    public static TimeSpan RunLimit { get; } = TimeSpan.FromMinutes(4);

    public async Task<RunResult> RunAsync(params string[] args)
    {
        var command = Cli.Wrap(Exe)
            .WithArguments(new[] { "--config-dir", ConfigDir }.Concat(args))
            .WithValidation(CommandResultValidation.None)
            .WithWorkingDirectory(Dir);
        var env = new Dictionary<string, string?>(Environment);
        if (PathOverride is not null)
            env["PATH"] = PathOverride;
        command = command.WithEnvironmentVariables(env);
        using var limit = new CancellationTokenSource(RunLimit);
        try
        {
            var result = await command.ExecuteBufferedAsync(Encoding.UTF8, limit.Token);
            return new RunResult(result.ExitCode, result.StandardOutput, result.StandardError);
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            throw new Xunit.Sdk.XunitException($"btw-backup {string.Join(' ', args)} did not end within {RunLimit.TotalMinutes} minutes: killed");
        }
    }

    /// <summary>Runs and requires success with nothing printed, as a successful fs is.</summary>
    public async Task QuietOkAsync(params string[] args)
    {
        var r = await RunAsync(args);
        if (r.ExitCode != 0 || r.Stdout != "" || r.Stderr != "")
            throw new Xunit.Sdk.XunitException($"btw-backup {string.Join(' ', args)}: expected a silent success, got {r}");
    }

    public async Task<string> InitAsync(string type, string src, string name)
    {
        var r = await RunAsync("fs-init", "--type", type, src, name);
        if (r.ExitCode != 0)
            throw new Xunit.Sdk.XunitException("fs-init failed: " + r);
        return r.Stdout.Trim()["btw-backup: created ".Length..];
    }

    /// <summary>Seconds since the epoch of a UTC time written as series names are.</summary>
    public static long Epoch(string utc) =>
        (long)(DateTime.ParseExact(utc, "yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal) - DateTime.UnixEpoch).TotalSeconds;

    /// <summary>A full-backup folder under root, made by rdiff-backup itself at the given times (UTC, the first names the folder): each backup.tar a real tar of one file saying its time.</summary>
    public async Task MakeRdiffFolderAsync(string dst, params string[] times)
    {
        var src = Directory.CreateDirectory(Path.Combine(Dir, "src-" + times[0].Replace(':', '-'))).FullName;
        var state = Directory.CreateDirectory(Path.Combine(Dir, "state-" + times[0].Replace(':', '-'))).FullName;
        var repo = Path.Combine(Root, dst, times[0]);
        Directory.CreateDirectory(Path.GetDirectoryName(repo)!);
        foreach (var t in times)
        {
            File.WriteAllText(Path.Combine(state, "state.txt"), "state at " + t + "\n");
            var tar = Path.Combine(src, "backup.tar");
            Assert.Equal(0, (await Sandbox.ShellAsync("tar", "-cf", tar, "-C", state, ".")).ExitCode);
            File.SetLastWriteTimeUtc(tar, DateTime.UnixEpoch.AddSeconds(Epoch(t) - 60));
            var r = await Sandbox.ShellAsync("rdiff-backup", "--current-time", Epoch(t).ToString(CultureInfo.InvariantCulture), "backup", src, repo);
            Assert.True(r.ExitCode == 0, r.ToString());
        }
    }

    /// <summary>A small source tree with a few files, a subfolder, modes and a symlink.</summary>
    public string MakeTree(string name)
    {
        var root = Directory.CreateDirectory(Path.Combine(Dir, name)).FullName;
        File.WriteAllText(Path.Combine(root, "a.txt"), "alpha\n");
        Directory.CreateDirectory(Path.Combine(root, "sub"));
        File.WriteAllBytes(Path.Combine(root, "sub", "data.bin"), RandomNumberGenerator.GetBytes(50_000));
        File.WriteAllText(Path.Combine(root, "sub", "script.sh"), "#!/bin/sh\necho hi\n");
        File.SetUnixFileMode(Path.Combine(root, "sub", "script.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        File.CreateSymbolicLink(Path.Combine(root, "link"), "a.txt");
        return root;
    }

    /// <summary>list DST as a shape: "f" for a full backup, "i" for each increment.</summary>
    public async Task<string> ShapeAsync(string dst)
    {
        var r = await RunAsync("list", dst);
        if (r.ExitCode != 0)
            throw new Xunit.Sdk.XunitException("list failed: " + r);
        return string.Concat(r.StdoutLines.Select(l => l.StartsWith(' ') ? "i" : "f"));
    }

    /// <summary>Waits for the next wall-clock second, so that a change made now gets a new mtime second.</summary>
    public static async Task NextSecondAsync()
    {
        var now = DateTime.UtcNow;
        await Task.Delay(1000 - now.Millisecond + 20);
    }

    public static async Task<RunResult> ShellAsync(string program, params string[] args)
    {
        var r = await Cli.Wrap(program).WithArguments(args).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        return new RunResult(r.ExitCode, r.StandardOutput, r.StandardError);
    }

    /// <summary>Every entry under a folder with its type, mode and content hash: equal trees give equal maps.</summary>
    public static SortedDictionary<string, string> Snapshot(string root)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var rel = Path.GetRelativePath(root, path);
            var info = new FileInfo(path);
            if (info.LinkTarget is { } target)
                map[rel] = "link -> " + target;
            else if (Directory.Exists(path))
                map[rel] = "dir " + File.GetUnixFileMode(path);
            else
                map[rel] = $"file {File.GetUnixFileMode(path)} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)))}";
        }

        return map;
    }

    /// <summary>Every regular file under a folder with its content hash: what a mirror must hold.</summary>
    public static SortedDictionary<string, string> FileHashes(string dir) =>
        new(Snapshot(dir).Where(kv => kv.Value.StartsWith("file", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value.Split(' ')[^1]), StringComparer.Ordinal);

    /// <summary>A free TCP port on loopback, for a server a test starts.</summary>
    public static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>A folder of wrappers to put first on PATH: each runs a shell snippet instead of the real program.</summary>
    public string FaultyTools(params (string Program, string Script)[] tools)
    {
        var dir = Directory.CreateDirectory(Path.Combine(Dir, "faulty-bin-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        foreach (var (program, script) in tools)
        {
            var path = Path.Combine(dir, program);
            File.WriteAllText(path, "#!/bin/sh\n" + script + "\n");
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return dir + ":" + System.Environment.GetEnvironmentVariable("PATH");
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
