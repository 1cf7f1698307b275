using BtwBackup.Cli;
using Xunit;

namespace BtwBackup.Tests.Cli;

public class ArgParserTests
{
    private static ParseOutcome Parse(params string[] args) => CommandLine.Parser().Parse(args);

    private static ParsedArgs Run(params string[] args) => Assert.IsType<ParseOutcome.Run>(Parse(args)).Args;

    private static ParseOutcome.Exit Exit(params string[] args) => Assert.IsType<ParseOutcome.Exit>(Parse(args));

    [Fact]
    public void Parses_the_original_commands()
    {
        var fs = Run("-q", "--config-dir", "/c", "fs", "-u", "root:root", "/src", "dst");
        Assert.Equal(("fs", true, "/c", "/src", "dst", "root:root"), (fs.Command, fs.Quiet, fs.ConfigDir, fs.Get("src"), fs.Get("dst"), fs.Find("uid")));

        var init = Run("fs-init", "--type=tar", "/src", "name");
        Assert.Equal("tar", init.Get("backup_type"));

        var db = Run("db", "shop", "dst");
        Assert.Equal(("shop", "dst", false), (db.Find("db"), db.Get("dst"), db.Flag("g")));
        var global = Run("db", "-g", "dst");
        Assert.Equal((null, "dst", true), (global.Find("db"), global.Get("dst"), global.Flag("g")));

        Assert.True(Run("sync", "--full").Flag("full"));
        Assert.True(Run("sync-state", "--list").Flag("list"));
        Assert.Equal("dst", Run("list", "dst").Get("dst"));
        Assert.Equal("-odd", Run("list", "--", "-odd").Get("dst"));
    }

    [Theory]
    [InlineData(new[] { "fs" }, "usage: btw-backup fs [-h] [-u UID[:GID]] src dst", "btw-backup fs: error: the following arguments are required: src, dst")]
    [InlineData(new[] { "fs", "/src" }, "usage: btw-backup fs [-h] [-u UID[:GID]] src dst", "btw-backup fs: error: the following arguments are required: dst")]
    [InlineData(new[] { "fs-init", "/src", "n" }, "usage: btw-backup fs-init [-h] --type {rdiff,tar} src name", "btw-backup fs-init: error: the following arguments are required: --type")]
    [InlineData(new[] { "fs-init", "--type", "zip", "/src", "n" }, "usage: btw-backup fs-init [-h] --type {rdiff,tar} src name", "btw-backup fs-init: error: argument --type: invalid choice: 'zip' (choose from 'rdiff', 'tar')")]
    [InlineData(new[] { "fs", "-u" }, "usage: btw-backup fs [-h] [-u UID[:GID]] src dst", "btw-backup fs: error: argument -u/--uid: expected one argument")]
    [InlineData(new[] { "db" }, "usage: btw-backup db [-h] [-g] [-u UID[:GID]] [db] dst", "btw-backup db: error: the following arguments are required: dst")]
    [InlineData(new[] { "sync-state" }, "usage: btw-backup sync-state [-h] [--since TIME] [--host H] (--list | --reset | --history)", "btw-backup sync-state: error: one of the arguments --list --reset --history is required")]
    [InlineData(new[] { "sync-state", "--list", "--reset" }, "usage: btw-backup sync-state [-h] [--since TIME] [--host H] (--list | --reset | --history)", "btw-backup sync-state: error: argument --reset: not allowed with argument --list")]
    public void Usage_errors_exit_2_with_a_usage_line(string[] args, string usage, string error)
    {
        var exit = Exit(args);
        Assert.Equal(2, exit.Code);
        Assert.Equal("", exit.Stdout);
        Assert.Equal(usage + "\n" + error + "\n", exit.Stderr);
    }

    [Fact]
    public void Run_takes_any_number_of_sources_and_status_takes_json()
    {
        Assert.Equal([], Run("run").All("SOURCE"));
        var run = Run("run", "--json", "www", "db");
        Assert.Equal(["www", "db"], run.All("SOURCE"));
        Assert.True(run.Flag("json"));
        Assert.True(Run("status", "--json").Flag("json"));
        Assert.Equal("serve", Run("serve").Command);
        Assert.EndsWith("unrecognized arguments: extra\n", Exit("serve", "extra").Stderr);
        Assert.StartsWith("usage: btw-backup run [-h] [--json] [--host H] [SOURCE ...]\n", Exit("run", "-h").Stdout);
    }

    [Fact]
    public void Main_level_errors()
    {
        Assert.EndsWith("btw-backup: error: the following arguments are required: command\n", Exit().Stderr);
        Assert.Contains("invalid choice: 'backup'", Exit("backup").Stderr);
        Assert.EndsWith("btw-backup: error: unrecognized arguments: extra\n", Exit("list", "dst", "extra").Stderr);
        Assert.EndsWith("btw-backup: error: unrecognized arguments: --nope\n", Exit("fs", "--nope", "/s", "d").Stderr);
        Assert.All(new[] { Exit(), Exit("backup"), Exit("list", "dst", "extra") }, e => Assert.Equal(2, e.Code));
    }

    [Fact]
    public void Help_and_version_exit_0_on_stdout()
    {
        var version = Exit("--version");
        Assert.Equal((0, "btw-backup " + CommandLine.Version + "\n", ""), (version.Code, version.Stdout, version.Stderr));
        var help = Exit("-h");
        Assert.Equal(0, help.Code);
        Assert.All(CommandLine.Commands, c => Assert.Contains(c.Name, help.Stdout));
        var fsHelp = Exit("fs", "--help");
        Assert.StartsWith("usage: btw-backup fs [-h] [-u UID[:GID]] src dst\n", fsHelp.Stdout);
        Assert.Contains("UID[:GID]", fsHelp.Stdout);
    }
}

public class RunRequestTests
{
    private static ParsedArgs Run(params string[] args) => Assert.IsType<ParseOutcome.Run>(CommandLine.Parser().Parse(args)).Args;

    [Fact]
    public void Run_host_asks_for_every_source_of_that_host_besides_those_named()
    {
        var request = Requests.From(Run("run", "--host", "db2", "web1:www", "db2:pg"));

        Assert.Equal(["web1:www", "db2:pg", "db2:"], ((BtwBackup.Protocol.RunPass)request.Command).Sources);
    }

    [Theory]
    [InlineData("a:b")]
    [InlineData("")]
    [InlineData("two words")]
    public void Run_host_refuses_what_cannot_be_a_host_name(string host)
    {
        var e = Assert.Throws<UsageException>(() => Requests.From(Run("run", "--host", host)));

        Assert.Equal($"argument --host: not a host name: '{host}'", e.Message);
        Assert.StartsWith("usage: btw-backup run [-h] [--json] [--host H]", e.Usage);
    }

    [Fact]
    public void Sync_state_host_reads_another_hosts_state_and_never_resets_it()
    {
        Assert.Equal(new BtwBackup.Protocol.InspectSyncState(BtwBackup.Protocol.SyncStateAction.List, null, "db2"),
            Requests.From(Run("sync-state", "--list", "--host", "db2")).Command);

        var reset = Assert.Throws<UsageException>(() => Requests.From(Run("sync-state", "--reset", "--host", "db2")));
        Assert.Equal("argument --host: only with --list or --history (a host's state is reset on that host)", reset.Message);
        var path = Assert.Throws<UsageException>(() => Requests.From(Run("sync-state", "--list", "--host", "../x")));
        Assert.Equal("argument --host: not a host name: '../x'", path.Message);
    }
}
