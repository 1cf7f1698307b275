using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary><c>out/btw-backup serve</c> as a separate process, its stdout collected.</summary>
internal sealed class DaemonProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private DaemonProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue("stderr: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output => string.Join('\n', _lines);

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Starts the daemon and waits until it serves.</summary>
    /// <param name="hangUpIgnored">Started as under nohup: SIGHUP ignored from the start (env execs it, same pid).</param>
    public static async Task<DaemonProcess> StartAsync(Sandbox box, bool hangUpIgnored = false)
    {
        var start = hangUpIgnored
            ? new ProcessStartInfo("env", ["--ignore-signal=HUP", Sandbox.Exe, "--config-dir", box.ConfigDir, "serve"])
            : new ProcessStartInfo(Sandbox.Exe, ["--config-dir", box.ConfigDir, "serve"]);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        foreach (var (name, value) in box.Environment)
            start.Environment[name] = value;
        var daemon = new DaemonProcess(Process.Start(start)!);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!daemon.Output.Contains("daemon: serving", StringComparison.Ordinal))
        {
            if (daemon.HasExited || DateTime.UtcNow > deadline)
                throw new Xunit.Sdk.XunitException("the daemon did not start:\n" + daemon.Output);
            await Task.Delay(50);
        }

        return daemon;
    }

    /// <summary>SIGTERM, then waits for the exit.</summary>
    public async Task TerminateAsync()
    {
        await Sandbox.ShellAsync("kill", "-TERM", Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(timeout.Token);
    }

    public Task WaitForExitAsync(CancellationToken ct) => _process.WaitForExitAsync(ct);

    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
            await KillAsync();
        _process.Dispose();
    }
}

/// <summary>The daemon and the CLI over Akka.Remote: the same commands, the same results, only the daemon writing.</summary>
[Collection(S3Collection.Name)]
public sealed class DaemonTests : IDisposable
{
    private readonly S3TestServer _s3;
    private readonly Sandbox _box = new();
    private readonly string _prefix = "d" + Guid.NewGuid().ToString("N")[..10] + "/";
    private readonly int _port = Sandbox.FreePort();

    public DaemonTests(S3TestServer s3) => _s3 = s3;

    public void Dispose() => _box.Dispose();

    private string Log => File.ReadAllText(Path.Combine(_box.ConfigDir, "btw-backup.log"));

    private void Configure(string sources) => _box.WriteConfig($$"""
        root-path = "{{_box.Root}}"
        daemon { port = {{_port}} }
        sources {
          {{sources}}
        }
        destinations {
          offsite { uri = "s3://{{S3TestServer.Bucket}}/{{_prefix}}", s3cmd-config = "{{_s3.S3cmdConfig(_box.Dir)}}" }
        }
        """);

    private Task<SortedDictionary<string, string>> RemoteAsync() => _s3.DownloadAsync(_prefix, _box.Dir);

    [Fact]
    public async Task Run_status_fs_and_sync_state_go_through_the_daemon_with_the_same_results()
    {
        var www = _box.MakeTree("www");
        var notes = _box.MakeTree("notes");
        Configure($$"""
            www   { type = rdiff, path = "{{www}}", dst = "www" }
            notes { type = tar, path = "{{notes}}", dst = "notes" }
            """);
        await using var daemon = await DaemonProcess.StartAsync(_box);

        var run = await _box.RunAsync("run");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(@"^pass started .*: all good$", run.StdoutLines[0]);
        Assert.Matches(@"^  notes  backed up \(full\) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.tbz at ", run.StdoutLines[1]);
        Assert.Matches(@"^  www    backed up \(full\) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d at ", run.StdoutLines[2]);
        Assert.Matches(@"^  -> offsite: uploaded \d+ \(.*\), deleted 0, still pending 0$", run.StdoutLines[3]);
        Assert.Equal("", run.Stderr);
        Assert.Equal(Sandbox.FileHashes(_box.Root), await RemoteAsync());
        // A single node has no hosts to name: one line, nothing run.
        var host = await _box.RunAsync("run", "--host", "www");
        Assert.Equal(new RunResult(1, "", $"btw-backup: HOST:SOURCE and --host name the hosts of a cluster, and this daemon is a single node (no cluster block in {Path.Combine(_box.ConfigDir, "btw-backup.conf")}): name its sources alone\n"), host);
        Assert.Equal(new RunResult(1, "", "btw-backup: sync-state --host db2: this node is not in a cluster (no cluster block in btw-backup.conf): it has no other host\n"),
            await _box.RunAsync("sync-state", "--list", "--host", "db2"));

        // fs on a configured tree shares its working folder and its history: an increment.
        await Sandbox.NextSecondAsync();
        File.WriteAllText(Path.Combine(www, "a.txt"), "changed\n");
        await _box.QuietOkAsync("fs", www, "www");
        Assert.Equal("fi", await _box.ShapeAsync("www"));
        Assert.Equal(Sandbox.FileHashes(_box.Root), await RemoteAsync());
        Assert.Equal(new RunResult(0, "", ""), await _box.RunAsync("sync-state", "--list"));

        var status = await _box.RunAsync("status");
        Assert.Equal(0, status.ExitCode);
        Assert.Matches($@"^daemon: serving on 127\.0\.0\.1:{_port} since .* \(pid {daemon.Pid}\)$", status.StdoutLines[0]);
        // Each series with its points (www: a full backup and its increment) and the bytes it takes.
        Assert.Contains(status.StdoutLines, l => Regex.IsMatch(l, @"^  www    rdiff -> www \(2 points, [\d.]+ KiB\): backed up \(increment on "));
        Assert.Contains(status.StdoutLines, l => Regex.IsMatch(l, @"^  notes  tar -> notes \(1 point, [\d.]+ (KiB|B)\): backed up \(full\) "));
        Assert.Contains("  offsite: nothing pending, last sync ", status.Stdout, StringComparison.Ordinal);

        using var json = JsonDocument.Parse((await _box.RunAsync("status", "--json")).Stdout);
        Assert.True(json.RootElement.GetProperty("daemon").GetProperty("serving").GetBoolean());
        Assert.Equal(0, json.RootElement.GetProperty("destinations")[0].GetProperty("pending").GetInt32());
        foreach (var (name, points) in new[] { ("www", 2), ("notes", 1) })
        {
            var usage = json.RootElement.GetProperty("sources").EnumerateArray().Single(s => s.GetProperty("name").GetString() == name).GetProperty("usage");
            Assert.Equal(points, usage.GetProperty("points").GetInt32());
            var onDisk = new DirectoryInfo(Path.Combine(_box.Root, name)).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
            Assert.Equal(onDisk, usage.GetProperty("bytes").GetInt64());
        }

        // A restore is the daemon's work too: the tree as it is, and a bad series refused in one line.
        var target = Path.Combine(_box.Dir, "restored-by-daemon");
        var restored = await _box.RunAsync("restore", "notes", target);
        Assert.True(restored.ExitCode == 0, restored.ToString());
        Assert.StartsWith("btw-backup: restored notes as of ", restored.Stdout, StringComparison.Ordinal);
        Assert.Equal(Sandbox.Snapshot(notes), Sandbox.Snapshot(target));
        var outside = await _box.RunAsync("restore", "../etc", Path.Combine(_box.Dir, "nowhere"));
        Assert.Equal(1, outside.ExitCode);
        Assert.StartsWith("btw-backup: the dst argument ", outside.Stderr, StringComparison.Ordinal);
        Assert.Single(outside.Stderr.TrimEnd('\n').Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(_box.Dir, "nowhere")));

        // Every command was the daemon's work: its log names each, and the CLI never took the lock.
        foreach (var command in new[] { "RunPass", "BackupFileTree", "ListBackups", "InspectSyncState", "ShowStatus", "RestoreBackup" })
            Assert.Contains($"gateway: {command} from akka.tcp://btw-backup-cli@127.0.0.1:", daemon.Output, StringComparison.Ordinal);
        Assert.Equal(daemon.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(_box.ConfigDir, "lock.pid")).Trim());
        // The S3 secret (in the s3cmd file) appears nowhere the daemon writes or shows.
        Assert.DoesNotContain(S3TestServer.SecretKey, daemon.Output + Log + status.Stdout + run.Stdout, StringComparison.Ordinal);

        var second = await _box.RunAsync("serve");
        Assert.Equal(1, second.ExitCode);
        Assert.Equal($"btw-backup: a btw-backup daemon already serves {_box.ConfigDir} (pid {daemon.Pid}, 127.0.0.1:{_port})\n", second.Stderr);

        await daemon.TerminateAsync();
        Assert.Equal(0, daemon.ExitCode);
        Assert.Contains("daemon: stopped", daemon.Output, StringComparison.Ordinal);

        // Without the daemon, status reads what it left behind.
        var after = await _box.RunAsync("status");
        Assert.Equal("daemon: not running", after.StdoutLines[0]);
        Assert.Contains(after.StdoutLines, l => l.StartsWith("  www    rdiff -> www (2 points, ", StringComparison.Ordinal) && l.Contains("): backed up (increment on ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SIGHUP_reloads_the_sources_and_a_bad_configuration_changes_nothing()
    {
        var www = _box.MakeTree("www");
        var notes = _box.MakeTree("notes");
        Configure($$"""www { type = tar, path = "{{www}}", dst = "www" }""");
        await using var daemon = await DaemonProcess.StartAsync(_box);

        async Task HangUpAsync(string logLine)
        {
            var before = daemon.Output.Split('\n').Count(l => l.Contains(logLine, StringComparison.Ordinal));
            Assert.Equal(0, (await Sandbox.ShellAsync("kill", "-HUP", daemon.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture))).ExitCode);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (daemon.Output.Split('\n').Count(l => l.Contains(logLine, StringComparison.Ordinal)) == before && DateTime.UtcNow < deadline)
                await Task.Delay(50);
            Assert.True(daemon.Output.Split('\n').Count(l => l.Contains(logLine, StringComparison.Ordinal)) > before, "no '" + logLine + "' in:\n" + daemon.Output);
        }

        // A second source, and the journal moved: the source applies at once, the journal after a restart.
        Configure($$"""
            www   { type = tar, path = "{{www}}", dst = "www" }
            notes { type = tar, path = "{{notes}}", dst = "notes" }
            """);
        File.AppendAllText(Path.Combine(_box.ConfigDir, "btw-backup.conf"), "sync.parallelism = 3\n");
        await HangUpAsync("configuration reloaded from ");
        Assert.Contains("configuration: sync changed; the daemon keeps the running values until it is restarted", daemon.Output, StringComparison.Ordinal);
        var run = await _box.RunAsync("run");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(2, run.StdoutLines.Count(l => l.Contains(" backed up (full) ", StringComparison.Ordinal)));
        Assert.Equal(Sandbox.FileHashes(_box.Root), await RemoteAsync());

        // notes removed, with a typo: the daemon says why and goes on with what it had, notes included.
        Configure($$"""www { type = tar, path = "{{www}}", dst = "www", max-incremental-cont = 3 }""");
        await HangUpAsync("configuration not reloaded, the running one stays: ");
        Assert.True(daemon.Output.Contains("btw-backup.conf:4: sources.www: unknown setting 'max-incremental-cont' for a tar source (did you mean max-incremental-count?)", StringComparison.Ordinal), daemon.Output);
        // (The file fixed, not yet reloaded: the CLI can read it; the daemon still runs the last good one.)
        Configure($$"""www { type = tar, path = "{{www}}", dst = "www" }""");
        var again = await _box.RunAsync("run");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains(again.StdoutLines, l => l.StartsWith("  notes  unchanged at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_daemon_started_with_SIGHUP_ignored_as_under_nohup_says_it_cannot_reload_and_a_hang_up_changes_nothing()
    {
        var www = _box.MakeTree("www");
        var notes = _box.MakeTree("notes");
        Configure($$"""www { type = tar, path = "{{www}}", dst = "www" }""");
        await using var daemon = await DaemonProcess.StartAsync(_box, hangUpIgnored: true);
        Assert.Contains("daemon: SIGHUP is ignored (started under nohup?): the configuration cannot be reloaded; restart the daemon", daemon.Output, StringComparison.Ordinal);

        // Ignored it stays (its children inherit that, so a terminal's hang-up cannot kill a backup):
        // the daemon goes on with the configuration it has.
        Configure($$"""
            www   { type = tar, path = "{{www}}", dst = "www" }
            notes { type = tar, path = "{{notes}}", dst = "notes" }
            """);
        Assert.Equal(0, (await Sandbox.ShellAsync("kill", "-HUP", daemon.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture))).ExitCode);
        var run = await _box.RunAsync("run");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.False(daemon.HasExited, "SIGHUP ended the daemon:\n" + daemon.Output);
        Assert.Single(run.StdoutLines, l => l.Contains(" backed up (full) ", StringComparison.Ordinal));
        Assert.DoesNotContain("configuration reloaded from ", daemon.Output, StringComparison.Ordinal);
        Assert.Contains("gateway: RunPass from ", daemon.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Killed_during_a_pass_upload_then_started_again_a_sync_leaves_the_server_equal_to_root()
    {
        var bulk = Directory.CreateDirectory(Path.Combine(_box.Dir, "bulk")).FullName;
        for (var i = 0; i < 300; i++)
            File.WriteAllBytes(Path.Combine(bulk, $"f{i:D3}"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(30_000));
        Configure($$"""bulk { type = rdiff, path = "{{bulk}}", dst = "bulk" }""");
        var stored = Path.Combine(_s3.Directory, S3TestServer.Bucket, _prefix.TrimEnd('/'));

        // The daemon kills itself (as kill -9 would) after its 3rd upload, the others in flight or not begun.
        _box.Environment = new Dictionary<string, string?> { ["BTW_BACKUP_CRASH_AT"] = "sync-uploaded" };
        var daemon = await DaemonProcess.StartAsync(_box);
        _box.Environment = new Dictionary<string, string?>();
        var client = await _box.RunAsync("run");
        using (var exited = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await daemon.WaitForExitAsync(exited.Token);
        await daemon.DisposeAsync();
        Assert.True(Directory.EnumerateFiles(stored, "*._S3rver_object", SearchOption.AllDirectories).Count() >= 3, "fewer than 3 objects stored before the crash");

        Assert.Equal(1, client.ExitCode);
        Assert.Contains("the daemon stopped before it answered", client.Stderr, StringComparison.Ordinal);

        await using var again = await DaemonProcess.StartAsync(_box);
        Assert.NotEqual("", (await _box.RunAsync("sync-state", "--list")).Stdout);
        var sync = await _box.RunAsync("sync");
        Assert.True(sync.ExitCode == 0, sync.ToString());
        Assert.Equal("", (await _box.RunAsync("sync-state", "--list")).Stdout);
        Assert.Equal(Sandbox.FileHashes(_box.Root), await RemoteAsync());
        Assert.Equal("f", await _box.ShapeAsync("bulk"));
    }

    [Fact]
    public async Task SIGTERM_during_a_pass_stops_cleanly_and_leaves_no_half_written_backup()
    {
        var big = Directory.CreateDirectory(Path.Combine(_box.Dir, "big")).FullName;
        for (var i = 0; i < 6; i++)
            File.WriteAllBytes(Path.Combine(big, $"r{i}"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(10 << 20));
        Configure($$"""big { type = tar, path = "{{big}}", dst = "big" }""");
        var series = Path.Combine(_box.Root, "big");

        var daemon = await DaemonProcess.StartAsync(_box);
        var run = _box.RunAsync("run");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !run.IsCompleted &&
               !(Directory.Exists(series) && Directory.EnumerateFiles(series, ".*.partial").Any(f => new FileInfo(f).Length > 0)))
            await Task.Delay(20);
        Assert.False(run.IsCompleted, "the backup ended before it could be interrupted");

        await daemon.TerminateAsync();
        Assert.Equal(0, daemon.ExitCode);
        Assert.Contains("daemon: stopped", daemon.Output, StringComparison.Ordinal);
        var client = await run;
        Assert.Equal(1, client.ExitCode);
        Assert.True(client.StdoutLines.Any(l => l.StartsWith("  big  failed at ", StringComparison.Ordinal) && l.EndsWith(": interrupted", StringComparison.Ordinal)), client.ToString() + "\ndaemon:\n" + daemon.Output);
        // The first backup of the series was interrupted: nothing of it is left, not even its folder.
        Assert.False(Directory.Exists(series), "the interrupted first backup left " + string.Join(", ", Directory.Exists(series) ? Directory.EnumerateFileSystemEntries(series) : []));
        await daemon.DisposeAsync();

        // The next pass makes a whole archive, which tar reads back in full.
        await using var again = await DaemonProcess.StartAsync(_box);
        Assert.Equal(0, (await _box.RunAsync("run")).ExitCode);
        var archive = Assert.Single(Directory.GetFiles(series, "*.tbz"));
        var listing = await Sandbox.ShellAsync("tar", "-tjf", archive);
        Assert.Equal(0, listing.ExitCode);
        Assert.Equal(6, listing.StdoutLines.Count(l => l.Contains("/r", StringComparison.Ordinal) || l.StartsWith("./r", StringComparison.Ordinal)));
    }
}
