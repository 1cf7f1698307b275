using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>
/// The native front (out/btw-backup) answers help, the version and usage errors itself and hands
/// every command to the CLI in out/lib by execv: the same answers as the CLI, the same process,
/// and never a CLI found anywhere but beside the front's own executable.
/// </summary>
public sealed class LauncherTests : IDisposable
{
    private readonly Sandbox _box = new();

    private static string LibCli => Path.Combine(Path.GetDirectoryName(Sandbox.Exe)!, "lib", "btw-backup");

    public void Dispose() => _box.Dispose();

    private static Task<RunResult> BashAsync(string script) => Sandbox.ShellAsync("bash", "-c", script);

    [Theory]
    [InlineData("--version")]
    [InlineData("-h")]
    [InlineData("sync --help")]
    [InlineData("--config-dir")]
    [InlineData("frobnicate")]
    [InlineData("fs-init --type zip /x n")]
    [InlineData("restore --at")]
    [InlineData("-q")]
    public async Task Answers_what_the_command_line_decides_exactly_as_the_CLI_does(string args)
    {
        var front = await BashAsync($"'{Sandbox.Exe}' --config-dir '{_box.ConfigDir}' {args}");
        var cli = await BashAsync($"'{LibCli}' --config-dir '{_box.ConfigDir}' {args}");
        Assert.Equal(cli, front);
        Assert.True(front.Stdout.Length + front.Stderr.Length > 0, front.ToString());
        // Nothing reached the CLI: no log, no lock, no state in the configuration directory.
        Assert.Equal([Path.Combine(_box.ConfigDir, "btw-backup.conf")], Directory.GetFileSystemEntries(_box.ConfigDir, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task The_version_is_the_CLIs()
    {
        var r = await BashAsync($"'{Sandbox.Exe}' --version");
        Assert.Matches(@"^btw-backup \d+\.\d+\.\d+\n$", r.Stdout);
        Assert.Equal((await BashAsync($"'{LibCli}' --version")).Stdout, r.Stdout);
    }

    [Theory]
    [InlineData("\\xff\\xfe")]
    [InlineData("\\xed\\xa0\\x80")] // an encoded surrogate: decoders differ on how many replacement characters it is
    [InlineData("\\xf4\\x90\\x80\\x80")] // beyond U+10FFFF
    [InlineData("\\xe0\\x80\\xad")] // overlong
    public async Task An_argument_that_is_not_UTF8_gets_what_the_CLI_alone_gives(string bytes)
    {
        // As a configuration folder (the error names it) and as a bad argument (the usage error quotes it).
        var dir = Path.Combine(_box.Dir, "conf");
        foreach (var args in new[] { $"--config-dir $'{dir}{bytes}' list www", $"list www $'x{bytes}y'" })
        {
            var front = await BashAsync($"'{Sandbox.Exe}' {args}");
            var cli = await BashAsync($"'{LibCli}' {args}");
            Assert.NotEqual(0, front.ExitCode);
            Assert.Equal(cli, front);
        }
    }

    [Theory]
    [InlineData("-h >/dev/full", "btw-backup: cannot write its output: No space left on device\n")]
    [InlineData("--version >&-", "btw-backup: cannot write its output: ")]
    public async Task Help_that_cannot_be_written_is_one_line_and_exit_1(string redirected, string line)
    {
        foreach (var exe in new[] { Sandbox.Exe, LibCli })
        {
            var r = await BashAsync($"'{exe}' {redirected}");
            Assert.True(r.ExitCode == 1, exe + ": " + r);
            Assert.StartsWith(line, r.Stderr, StringComparison.Ordinal);
            Assert.Single(r.Stderr.TrimEnd('\n').Split('\n'));
        }
    }

    [Fact]
    public async Task A_front_whose_executable_was_deleted_says_so_and_runs_nothing()
    {
        // Started from an open descriptor after its file was removed (fexecve): /proc/self/exe names
        // a deleted file, and no folder is guessed from anything else.
        var gone = Directory.CreateDirectory(Path.Combine(_box.Dir, "gone")).FullName;
        var copy = Path.Combine(gone, "btw-backup");
        File.Copy(Sandbox.Exe, copy);
        File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var script = $"import os; fd = os.open('{copy}', os.O_RDONLY); os.unlink('{copy}'); os.execve(fd, ['btw-backup', '--config-dir', '{_box.ConfigDir}', 'list', 'www'], dict(os.environ))";
        var r = await Sandbox.ShellAsync("python3", "-c", script);
        Assert.Equal(new RunResult(1, "", $"btw-backup: its own executable was deleted ({copy} (deleted)): start it from where it is installed\n"), r);
    }

    [Fact]
    public async Task A_command_runs_in_the_process_started_which_becomes_the_CLI()
    {
        // The daemon started through the front: the PID started is the one serving (its lock, its
        // executable the CLI of lib/), and SIGTERM sent to it stops the daemon cleanly.
        _box.WriteConfig($"root-path = \"{_box.Root}\"\ndaemon.port = {Sandbox.FreePort()}\n");
        await using var daemon = await DaemonProcess.StartAsync(_box);
        Assert.Equal(LibCli, new FileInfo($"/proc/{daemon.Pid}/exe").LinkTarget);
        // The settings the front adds to the CLI's environment.
        var environment = File.ReadAllText($"/proc/{daemon.Pid}/environ").Split('\0');
        Assert.Contains("DOTNET_TC_CallCounting=0", environment);
        Assert.Contains("DOTNET_GCgen0size=800000", environment);
        Assert.Equal(daemon.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(_box.ConfigDir, "lock.pid")).Trim());
        await daemon.TerminateAsync();
        Assert.Equal(0, daemon.ExitCode);
        Assert.Contains("daemon: stopped", daemon.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_runtime_setting_the_caller_made_is_kept()
    {
        _box.WriteConfig($"root-path = \"{_box.Root}\"\ndaemon.port = {Sandbox.FreePort()}\n");
        _box.Environment = new Dictionary<string, string?> { ["DOTNET_TC_CallCounting"] = "1", ["DOTNET_GCgen0size"] = "4000000" };
        await using var daemon = await DaemonProcess.StartAsync(_box);
        var environment = File.ReadAllText($"/proc/{daemon.Pid}/environ").Split('\0');
        Assert.Contains("DOTNET_TC_CallCounting=1", environment);
        Assert.DoesNotContain("DOTNET_TC_CallCounting=0", environment);
        Assert.Contains("DOTNET_GCgen0size=4000000", environment);
        Assert.DoesNotContain("DOTNET_GCgen0size=800000", environment);
    }

    [Fact]
    public async Task A_runtime_setting_the_caller_made_under_the_older_prefix_is_kept()
    {
        // The runtime prefers DOTNET_ to COMPlus_: adding the first would override the second.
        _box.WriteConfig($"root-path = \"{_box.Root}\"\ndaemon.port = {Sandbox.FreePort()}\n");
        _box.Environment = new Dictionary<string, string?> { ["COMPlus_GCgen0size"] = "4000000" };
        await using var daemon = await DaemonProcess.StartAsync(_box);
        var environment = File.ReadAllText($"/proc/{daemon.Pid}/environ").Split('\0');
        Assert.Contains("COMPlus_GCgen0size=4000000", environment);
        Assert.DoesNotContain(environment, v => v.StartsWith("DOTNET_GCgen0size=", StringComparison.Ordinal));
        Assert.Contains("DOTNET_TC_CallCounting=0", environment);
    }

    [Fact]
    public async Task The_CLI_is_the_one_beside_the_fronts_own_executable_never_one_beside_a_link_to_it()
    {
        // Another user's folder with a link to the front and a "lib/btw-backup" of its own: running
        // the link runs the installed CLI, and the planted program never runs.
        var trap = Directory.CreateDirectory(Path.Combine(_box.Dir, "trap", "lib")).Parent!.FullName;
        var marker = Path.Combine(_box.Dir, "planted-ran");
        File.WriteAllText(Path.Combine(trap, "lib", "btw-backup"), $"#!/bin/sh\ntouch '{marker}'\necho planted\n");
        File.SetUnixFileMode(Path.Combine(trap, "lib", "btw-backup"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.CreateSymbolicLink(Path.Combine(trap, "btw-backup"), Sandbox.Exe);

        var r = await BashAsync($"cd '{trap}' && PATH='{trap}/lib':$PATH ./btw-backup --config-dir '{_box.ConfigDir}' list www");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("btw-backup: ", r.Stderr);
        Assert.DoesNotContain("planted", r.Stdout);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public async Task A_front_copied_without_its_lib_folder_says_so_in_one_line()
    {
        var alone = Directory.CreateDirectory(Path.Combine(_box.Dir, "alone")).FullName;
        File.Copy(Sandbox.Exe, Path.Combine(alone, "btw-backup"));
        File.SetUnixFileMode(Path.Combine(alone, "btw-backup"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        Assert.Equal(0, (await BashAsync($"'{alone}/btw-backup' --version")).ExitCode);
        var r = await BashAsync($"'{alone}/btw-backup' --config-dir '{_box.ConfigDir}' list www");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"btw-backup: cannot start {alone}/lib/btw-backup: No such file or directory (copy the whole published folder: lib/ goes beside btw-backup)\n", r.Stderr);
        Assert.Equal("", r.Stdout);
    }
}
