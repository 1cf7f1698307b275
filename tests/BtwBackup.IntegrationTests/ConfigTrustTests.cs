using System.Text;
using CliWrap;
using CliWrap.Buffered;
using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>
/// The hostile configurations found in review, run through the published binary: each ends
/// quickly (under a process timeout, not an assertion on time) in one line and exit 1, and
/// leaves nothing made; a series is a folder strictly inside root, one source's; a failed
/// backup leaves root as it found it; status says when it cannot know; -q quiets run.
/// </summary>
public sealed class ConfigTrustTests : IDisposable
{
    /// <summary>A configuration the parser could loop on must be refused well within this; the process is killed past it (and the test fails).</summary>
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(10);

    private readonly Sandbox _box = new();
    private readonly int _port = Sandbox.FreePort();

    public ConfigTrustTests()
    {
        // Its own daemon port: a daemon of another test never answers for this one.
        Configure("");
    }

    public void Dispose() => _box.Dispose();

    private string Conf => Path.Combine(_box.ConfigDir, "btw-backup.conf");

    private void Configure(string text) =>
        _box.WriteConfig($"root-path = \"{_box.Root}\"\ndaemon.port = {_port}\n{text}\n");

    /// <summary>Runs the binary, killed after <see cref="ProcessTimeout"/>: a hang fails the test with an exception instead of hanging it.</summary>
    private async Task<RunResult> RunAsync(params string[] args)
    {
        using var timeout = new CancellationTokenSource(ProcessTimeout);
        var command = Cli.Wrap(Sandbox.Exe)
            .WithArguments(new[] { "--config-dir", _box.ConfigDir }.Concat(args))
            .WithValidation(CommandResultValidation.None)
            .WithWorkingDirectory(_box.Dir);
        if (_box.PathOverride is not null)
            command = command.WithEnvironmentVariables(new Dictionary<string, string?> { ["PATH"] = _box.PathOverride });
        try
        {
            var r = await command.ExecuteBufferedAsync(Encoding.UTF8, timeout.Token);
            return new RunResult(r.ExitCode, r.StandardOutput, r.StandardError);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"btw-backup {string.Join(' ', args)} did not end within {ProcessTimeout.TotalSeconds} s (killed)");
        }
    }

    private async Task ExpectRefusedAsync(string stderr, params string[] args)
    {
        var r = await RunAsync(args);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Equal(stderr + "\n", r.Stderr);
        Assert.Equal("", r.Stdout);
        Assert.DoesNotContain("unexpected error", r.Stderr);
        Assert.DoesNotContain("the log has the details", r.Stderr);
    }

    private string[] RootEntries() => Directory.GetFileSystemEntries(_box.Root, "*", SearchOption.AllDirectories);

    [Fact]
    public async Task An_object_in_an_array_is_refused_at_once_by_the_cli_serve_and_run()
    {
        Configure("x = [a = 1]");
        var line = $"btw-backup: {Conf}:3: malformed HOCON: arrays are not supported (the value of 'x'): no setting takes a list";
        await ExpectRefusedAsync(line, "list", "www");
        await ExpectRefusedAsync(line, "serve");
        await ExpectRefusedAsync(line, "-q", "run");
        await ExpectRefusedAsync(line, "status");
    }

    [Fact]
    public async Task Includes_substitutions_and_huge_durations_are_one_line()
    {
        Configure("include \"/etc/passwd\"");
        await ExpectRefusedAsync($"btw-backup: {Conf}:3: malformed HOCON: include is not supported: write the settings in this file", "status");
        Configure("log-file = ${HOME}");
        await ExpectRefusedAsync($"btw-backup: {Conf}:3: malformed HOCON: substitutions (${{...}}) are not supported: write the value itself", "status");
        Configure("lock-timeout = 99999999999999999999999d");
        await ExpectRefusedAsync($"btw-backup: {Conf}:3: lock-timeout must be a duration such as 0s, 90m, 24h or 7d, not '99999999999999999999999d'", "status");
        Configure("defaults.max-incremental-span = 9999d");
        await ExpectRefusedAsync($"btw-backup: {Conf}:3: defaults.max-incremental-span must be at most 3650d, not '9999d'", "status");
        // No log was written: nothing may say it has details.
        Assert.False(File.Exists(Path.Combine(_box.ConfigDir, "btw-backup.log")));
    }

    [Fact]
    public async Task A_typo_in_any_file_is_refused_with_the_key_meant()
    {
        Configure("defaults.max-incremental-cuont = 0");
        await ExpectRefusedAsync($"btw-backup: {Conf}:3: unknown setting 'defaults.max-incremental-cuont' (did you mean defaults.max-incremental-count?)", "status");

        Configure("");
        var src = _box.MakeTree("www");
        var work = await _box.InitAsync("rdiff", src, "www");
        var sourceConf = Path.Combine(work, "source.conf");
        File.AppendAllText(sourceConf, "max-incremental-cuont = 0\n");
        var line = File.ReadAllLines(sourceConf).Length;
        await ExpectRefusedAsync($"btw-backup: {sourceConf}:{line}: unknown setting 'max-incremental-cuont' (did you mean max-incremental-count?)", "fs", src, "www");

        var dbConf = Path.Combine(Directory.CreateDirectory(Path.Combine(_box.ConfigDir, "db")).FullName, "shop.conf");
        File.WriteAllText(dbConf, "max-incremental-count = 3\nmax-incremental-spna = 1h\n");
        await ExpectRefusedAsync($"btw-backup: {dbConf}:2: unknown setting 'max-incremental-spna' (did you mean max-incremental-span?)", "db", "shop", "db/shop");
        Assert.Empty(RootEntries());
    }

    [Fact]
    public async Task A_series_is_a_folder_strictly_inside_root()
    {
        var src = _box.MakeTree("www");
        await _box.InitAsync("tar", src, "www");
        await ExpectRefusedAsync("btw-backup: the dst argument must name a folder inside the root path, not the root itself: '.'", "fs", src, ".");
        await ExpectRefusedAsync("btw-backup: the dst argument must name a folder inside the root path, not the root itself: './'", "fs", src, "./");
        await ExpectRefusedAsync("btw-backup: the dst argument cannot go above the root path: x/..", "fs", src, "x/..");
        await ExpectRefusedAsync("btw-backup: the dst argument must name a folder inside the root path, not the root itself: '.'", "db", "shop", ".");
        await ExpectRefusedAsync("btw-backup: the dst argument must name a folder inside the root path, not the root itself: '.'", "list", ".");
        await ExpectRefusedAsync("btw-backup: the dst argument must name a folder inside the root path, not the root itself: '.'", "verify", ".");
        await ExpectRefusedAsync("btw-backup: the dst argument must name a folder inside the root path, not the root itself: '.'", "restore", ".", Path.Combine(_box.Dir, "out"));
        Assert.Empty(RootEntries());

        // ./www/ is www: the same series as a configured source's.
        await _box.QuietOkAsync("fs", src, "./www/");
        Assert.Equal("f", await _box.ShapeAsync("www"));
    }

    [Fact]
    public async Task Two_sources_cannot_share_a_series_or_nest_one_in_another()
    {
        var a = _box.MakeTree("a");
        var b = _box.MakeTree("b");
        Configure($$"""
            sources {
              logs { type = tar, path = "{{a}}", dst = "srv" }
              www  { type = rdiff, path = "{{b}}", dst = "./srv/" }
            }
            """);
        await ExpectRefusedAsync($"btw-backup: {Conf}:3: sources logs and www share the dst srv: give each its own folder", "run");
        Configure($$"""
            sources {
              logs { type = tar, path = "{{a}}", dst = "srv" }
              www  { type = rdiff, path = "{{b}}", dst = "srv/www" }
            }
            """);
        await ExpectRefusedAsync($"btw-backup: {Conf}:3: sources logs and www nest: the dst of www (srv/www) is inside the dst of logs (srv): give each its own folder, side by side", "run");
        Configure($$"""
            sources {
              root { type = tar, path = "{{a}}", dst = "." }
            }
            """);
        await ExpectRefusedAsync($"btw-backup: {Conf}:4: sources.root: dst must name a folder inside the root path, not the root itself: '.'", "run");
        Assert.Empty(RootEntries());
    }

    [Fact]
    public async Task A_failed_backup_leaves_no_new_folder()
    {
        var src = _box.MakeTree("www");
        await _box.InitAsync("tar", src, "www");
        Directory.CreateDirectory(Path.Combine(_box.Root, "kept"));
        _box.PathOverride = _box.FaultyTools(("tar", "echo 'tar: cannot read: killed by the test' >&2\nexit 2"));
        var r = await RunAsync("fs", src, "new/deep/www");
        Assert.True(r.ExitCode == 1, r.ToString());
        r = await RunAsync("fs", src, "kept/www");
        Assert.True(r.ExitCode == 1, r.ToString());
        // What was there before stays; what the failed backups made is gone.
        Assert.Equal([Path.Combine(_box.Root, "kept")], RootEntries());

        _box.PathOverride = _box.FaultyTools(("pg_dump", "echo 'pg_dump: error: connection refused' >&2\nexit 1"));
        r = await RunAsync("db", "shop", "db/shop");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("pg_dump: error: connection refused", r.Stderr);
        Assert.Equal([Path.Combine(_box.Root, "kept")], RootEntries());

        // The same command, working, makes the folder and fills it.
        _box.PathOverride = null;
        await _box.QuietOkAsync("fs", src, "new/deep/www");
        Assert.Equal("f", await _box.ShapeAsync("new/deep/www"));
    }

    [Fact]
    public async Task Status_that_cannot_read_its_file_says_so_and_fails()
    {
        var statusFile = Path.Combine(_box.ConfigDir, "status.json");
        Directory.CreateDirectory(statusFile);
        await ExpectRefusedAsync($"btw-backup: cannot read {statusFile}: it is a directory, not a file: the last results of the sources are unknown (fix the file, or remove it to start afresh)", "status");
        Directory.Delete(statusFile);
        File.WriteAllText(statusFile, "{ not json");
        await ExpectRefusedAsync($"btw-backup: cannot read {statusFile}: it is not the JSON btw-backup writes: the last results of the sources are unknown (fix the file, or remove it to start afresh)", "status");
        File.Delete(statusFile);
        var ok = await RunAsync("status");
        Assert.True(ok.ExitCode == 0, ok.ToString());
    }

    [Fact]
    public async Task Status_run_by_a_user_who_cannot_read_its_file_says_so_and_fails()
    {
        // Needs root (to act as nobody); elsewhere the directory and JSON cases above stand for it.
        if (Environment.UserName != "root" || !File.Exists("/usr/sbin/runuser"))
            return;
        var statusFile = Path.Combine(_box.ConfigDir, "status.json");
        File.WriteAllText(statusFile, "{}");
        File.SetUnixFileMode(statusFile, UnixFileMode.None);
        var open = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(_box.Dir, open);
        File.SetUnixFileMode(_box.ConfigDir, open);
        File.SetUnixFileMode(Conf, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using var timeout = new CancellationTokenSource(ProcessTimeout);
        var r = await Cli.Wrap("/usr/sbin/runuser")
            .WithArguments(["-u", "nobody", "--", Sandbox.Exe, "--config-dir", _box.ConfigDir, "status"])
            .WithValidation(CommandResultValidation.None)
            .WithWorkingDirectory("/")
            .ExecuteBufferedAsync(Encoding.UTF8, timeout.Token);
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}\n{r.StandardOutput}\n{r.StandardError}");
        Assert.Equal($"btw-backup: cannot read {statusFile}: permission denied (run status as the user that runs the backups): the last results of the sources are unknown (fix the file, or remove it to start afresh)\n", r.StandardError);
        Assert.Equal("", r.StandardOutput);
    }

    [Fact]
    public async Task Quiet_run_prints_nothing_on_success()
    {
        var src = _box.MakeTree("www");
        Configure($$"""
            sources {
              www { type = tar, path = "{{src}}", dst = "www" }
            }
            """);
        var quiet = await RunAsync("-q", "run");
        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.Equal(("", ""), (quiet.Stdout, quiet.Stderr));
        Assert.Equal("f", await _box.ShapeAsync("www"));

        // Without -q the same pass prints its summary: -q is what made it silent.
        await Sandbox.NextSecondAsync();
        var loud = await RunAsync("run");
        Assert.True(loud.ExitCode == 0, loud.ToString());
        Assert.StartsWith("pass started ", loud.Stdout);

        // A failure is never silent.
        Directory.Delete(src, recursive: true);
        var failed = await RunAsync("-q", "run");
        Assert.Equal(1, failed.ExitCode);
        Assert.NotEqual("", failed.Stdout + failed.Stderr);
    }
}
