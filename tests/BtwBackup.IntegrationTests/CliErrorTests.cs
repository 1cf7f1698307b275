using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>Every bad input: one clear line on stderr, the right exit code, nothing made.</summary>
public sealed class CliErrorTests : IDisposable
{
    private readonly Sandbox _box = new();

    public void Dispose() => _box.Dispose();

    private async Task ExpectErrorAsync(int exitCode, string stderr, params string[] args)
    {
        var r = await _box.RunAsync(args);
        Assert.True(exitCode == r.ExitCode, r.ToString());
        Assert.Equal(stderr, r.Stderr);
        Assert.Equal("", r.Stdout);
    }

    private string[] RootEntries() => Directory.GetFileSystemEntries(_box.Root, "*", SearchOption.AllDirectories);

    [Fact]
    public async Task Source_and_destination_paths()
    {
        var src = _box.MakeTree("www");
        await ExpectErrorAsync(1, "btw-backup: the source path must be absolute\n", "fs-init", "--type", "rdiff", "www", "www");
        await _box.InitAsync("rdiff", src, "www");
        await ExpectErrorAsync(1, "btw-backup: there is already a directory for this path\n", "fs-init", "--type", "tar", src, "again");
        await ExpectErrorAsync(1, "btw-backup: the dst argument cannot be an absolute path\n", "fs", src, "/abs");
        await ExpectErrorAsync(1, "btw-backup: the dst argument cannot be an absolute path\n", "list", "/abs");
        await ExpectErrorAsync(1, "btw-backup: the dst argument cannot go above the root path: ../x\n", "fs", src, "../x");
        await ExpectErrorAsync(1, $"btw-backup: no working directory for: {src}/\n", "fs", src + "/", "www");
        await ExpectErrorAsync(1, "btw-backup: no working directory for: www\n", "fs", "www", "www");
        Assert.Empty(RootEntries());
        Assert.Single(Directory.GetDirectories(_box.ConfigDir));
    }

    [Fact]
    public async Task Missing_or_unreadable_sources()
    {
        var src = _box.MakeTree("www");
        await _box.InitAsync("tar", src, "www");
        Directory.Delete(src, recursive: true);
        await ExpectErrorAsync(1, $"btw-backup: cannot read the source {src}: no such directory\n", "fs", src, "www");
        File.WriteAllText(src, "a file now");
        await ExpectErrorAsync(1, $"btw-backup: the source is not a directory: {src}\n", "fs", src, "www");
        Assert.Empty(Directory.GetFiles(_box.Root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Usage_errors_exit_2_with_a_usage_line()
    {
        await ExpectErrorAsync(2, "usage: btw-backup fs [-h] [-u UID[:GID]] src dst\nbtw-backup fs: error: the following arguments are required: dst\n", "fs", "/x");
        await ExpectErrorAsync(2,
            "usage: btw-backup fs-init [-h] --type {rdiff,tar} src name\nbtw-backup fs-init: error: argument --type: invalid choice: 'zip' (choose from 'rdiff', 'tar')\n",
            "fs-init", "--type", "zip", "/x", "n");
        var r = await _box.RunAsync("frobnicate");
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("usage: btw-backup [-h]", r.Stderr);
        Assert.Empty(Directory.GetDirectories(_box.ConfigDir));
        // No actor system was started, so nothing was logged.
        Assert.False(File.Exists(Path.Combine(_box.ConfigDir, "btw-backup.log")));
    }

    [Fact]
    public async Task Configuration_errors_name_what_to_fix()
    {
        File.Delete(Path.Combine(_box.ConfigDir, "btw-backup.conf"));
        File.WriteAllText(Path.Combine(_box.ConfigDir, "config.py"), "S3_URI_PREFIX = 's3://b/p/'\n");
        await ExpectErrorAsync(1, "btw-backup: you must specify ROOT_PATH in the general configuration\n", "list", "www");

        File.WriteAllText(Path.Combine(_box.ConfigDir, "config.py"), "import os\nROOT_PATH = os.getcwd()\n");
        var py = Path.Combine(_box.ConfigDir, "config.py");
        await ExpectErrorAsync(1,
            $"btw-backup: {py}:1: not a setting of the form NAME = literal: legacy .py files are read as data, never executed; move anything else to btw-backup.conf (HOCON)\n",
            "list", "www");

        _box.WriteConfig($"root-path = \"{_box.Root}\"\ndefaults {{\n  max-incremental-count = 3\n");
        var conf = Path.Combine(_box.ConfigDir, "btw-backup.conf");
        await ExpectErrorAsync(1, $"btw-backup: {conf}:2: malformed HOCON: '{{' is never closed\n", "list", "www");

        _box.WriteConfig("log-level = INFO\n");
        await ExpectErrorAsync(1, $"btw-backup: {conf}: you must specify root-path in the general configuration\n", "list", "www");
    }

    [Fact]
    public async Task An_unknown_type_in_a_working_folder_made_by_hand()
    {
        var src = _box.MakeTree("www");
        var wd = await _box.InitAsync("tar", src, "www");
        File.Delete(Path.Combine(wd, "source.conf"));
        File.WriteAllText(Path.Combine(wd, "config.py"), "TYPE = \"zip\"\n");
        await ExpectErrorAsync(1, "btw-backup: unknown backup type: zip\n", "fs", src, "www");
        Assert.Empty(RootEntries());
    }

    [Fact]
    public async Task Missing_tools_are_named()
    {
        var src = _box.MakeTree("www");
        await _box.InitAsync("rdiff", src, "www");
        // A PATH with tar but no rdiff-backup, then one with neither.
        var bin = Directory.CreateDirectory(Path.Combine(_box.Dir, "bin")).FullName;
        File.CreateSymbolicLink(Path.Combine(bin, "tar"), "/usr/bin/tar");
        _box.PathOverride = bin;
        await ExpectErrorAsync(1,
            "btw-backup: rdiff-backup is not installed or not on PATH (./run.sh install-deps installs what btw-backup needs)\n", "fs", src, "www");
        File.Delete(Path.Combine(bin, "tar"));
        await ExpectErrorAsync(1,
            "btw-backup: tar is not installed or not on PATH (./run.sh install-deps installs what btw-backup needs)\n", "fs", src, "www");
        // A failed backup leaves no folder it made.
        Assert.Empty(RootEntries());
    }

    [Fact]
    public async Task List_of_a_missing_series()
    {
        await ExpectErrorAsync(1, $"btw-backup: no backups at nothing: {_box.Root}/nothing does not exist\n", "list", "nothing");
    }

    [Fact]
    public async Task Sync_without_a_destination_says_what_to_configure()
    {
        await ExpectErrorAsync(1, "btw-backup: no destination is configured: add one to destinations in btw-backup.conf\n", "sync");
        await ExpectErrorAsync(1, "btw-backup: no destination is configured: there is no sync state (destinations in btw-backup.conf)\n", "sync-state", "--list");
    }

    [Fact]
    public async Task A_legacy_configuration_without_s3_settings_gives_the_original_messages_for_commands_that_sync()
    {
        File.Delete(Path.Combine(_box.ConfigDir, "btw-backup.conf"));
        File.WriteAllText(Path.Combine(_box.ConfigDir, "config.py"), $"ROOT_PATH = \"{_box.Root}\"\n");
        await ExpectErrorAsync(1, "btw-backup: you must specify S3_URI_PREFIX in the general configuration\n", "sync");
        File.AppendAllText(Path.Combine(_box.ConfigDir, "config.py"), "S3_URI_PREFIX = \"s3://bucket/prefix\"\n");
        await ExpectErrorAsync(1, "btw-backup: you must specify S3CMD_CONFIG in the general configuration\n", "fs", "/src", "dst");
        Assert.Empty(RootEntries());
    }
}
