using BtwBackup.Config;
using BtwBackup.Protocol;
using Xunit;

namespace BtwBackup.Tests.Config;

/// <summary>Each refusal of a configuration a user could write by mistake (or be handed), with its exact line.</summary>
public sealed class ConfigTrustTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-trust-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string General => Path.Combine(_dir, ConfigLoader.GeneralFileName);

    private string RefuseGeneral(string text)
    {
        File.WriteAllText(General, text);
        return Assert.Throws<ConfigException>(() => ConfigLoader.LoadGeneral(_dir)).Message;
    }

    [Theory]
    [InlineData("x = [a = 1]", 2, "arrays are not supported (the value of 'x'): no setting takes a list")]
    [InlineData("[a = 1]", 2, "arrays are not supported: no setting takes a list")]
    [InlineData("include \"/etc/passwd\"", 2, "include is not supported: write the settings in this file")]
    [InlineData("log-file = ${HOME}", 2, "substitutions (${...}) are not supported: write the value itself")]
    [InlineData("log-file += x", 2, "'+=' is not supported (after the key 'log-file'): write the whole value")]
    [InlineData("log-file = \"\"\"x\"\"\"", 2, "triple-quoted strings are not supported: write the value on one line")]
    [InlineData("daemon.schedule = 30 2 * * *", 2, "'*' outside quotes in the value of 'daemon.schedule': put the value in quotes (\"...\")")]
    [InlineData("defaults.max-incremental-count = 1ount = 10", 2, "'=' outside quotes in the value of 'defaults.max-incremental-count': put the value in quotes (\"...\")")]
    [InlineData("log-file = {a = 1} b", 2, "the value of 'log-file' mixes a block { } and text")]
    [InlineData("a..b = 1", 2, "the key 'a..b' has an empty part")]
    [InlineData("defaults { max-incremental-count = 1 }, log-level = INFO", 2, "a comma after the block of 'defaults': put what follows on its own line")]
    [InlineData("sources {\n a { type = tar, path = /s, dst = x },\n b { type = tar, path = /t, dst = y }\n}", 3, "a comma after the block of 'a': put what follows on its own line")]
    public void What_the_parser_could_loop_on_is_refused_before_it_with_the_line(string line, int lineNumber, string message) =>
        Assert.Equal($"{General}:{lineNumber}: malformed HOCON: {message}", RefuseGeneral("root-path = /b\n" + line + "\n"));

    [Fact]
    public void A_file_too_large_to_be_a_configuration_is_not_read()
    {
        var message = RefuseGeneral("root-path = /b\n" + new string('#', HoconSyntax.MaxLength + 1));
        Assert.Equal($"{General}: larger than 256 KiB; a btw-backup configuration is a few lines", message);
    }

    [Fact]
    public async Task A_parse_that_does_not_end_is_given_up_at_its_deadline()
    {
        using var never = new ManualResetEventSlim();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var parse = Task.Run(() => ConfigLoader.ParseDocument("a = 1\n", "/x.conf", _ => { never.Wait(); throw new InvalidOperationException(); }, TimeSpan.FromMilliseconds(200)));
        var e = await Assert.ThrowsAsync<ConfigException>(() => parse);
        never.Set();
        Assert.Equal("/x.conf: malformed HOCON: not parsed within 0.2 s; keep to plain keys, values and blocks", e.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void A_parser_failure_is_one_line_with_the_line_of_the_file()
    {
        var e = ConfigLoader.ParserError("a = 1\nb = 2\n", "/x.conf", "Unknown token at position 8:  a = 1 b = 2\n        ^");
        Assert.Equal("/x.conf:2: malformed HOCON: Unknown token (write plain keys, values and blocks; see hocon/btw-backup.conf)", e.Message);
    }

    [Theory]
    [InlineData("defaults.max-incremental-cuont = 0", "unknown setting 'defaults.max-incremental-cuont' (did you mean defaults.max-incremental-count?)")]
    [InlineData("defaults {\n  max-incremental-count = 3\n  max-incremental-spam = 1h\n}", "unknown setting 'defaults.max-incremental-spam' (did you mean defaults.max-incremental-span?)")]
    [InlineData("sync { paralelism = 3 }", "unknown setting 'sync.paralelism' (did you mean sync.parallelism?)")]
    [InlineData("lock-timout = 0s", "unknown setting 'lock-timout' (did you mean lock-timeout?)")]
    [InlineData("colour = blue", "unknown setting 'colour'")]
    public void Unknown_keys_of_btw_backup_conf_are_refused_with_the_nearest_known_one(string text, string message)
    {
        var lines = text.Split('\n');
        var line = 2 + Array.FindIndex(lines, l => l.Contains("cuont") || l.Contains("spam") || l.Contains("paral") || l.Contains("timout") || l.Contains("colour"));
        Assert.Equal($"{General}:{line}: {message}", RefuseGeneral("root-path = /b\n" + text + "\n"));
    }

    [Theory]
    [InlineData("defaults = 3", "defaults must be a block { ... }, not a value")]
    [InlineData("daemon { port { a = 1 } }", "daemon.port must be a value, not a block { }")]
    public void A_block_where_a_value_belongs_and_the_reverse(string text, string message) =>
        Assert.Equal($"{General}:2: {message}", RefuseGeneral("root-path = /b\n" + text + "\n"));

    [Fact]
    public void Unknown_keys_of_source_conf_and_db_conf_are_refused()
    {
        var work = Directory.CreateDirectory(Path.Combine(_dir, "www.abc")).FullName;
        var source = Path.Combine(work, "source.conf");
        File.WriteAllText(source, "type = rdiff\nmax-incremental-cuont = 0\n");
        Assert.Equal($"{source}:2: unknown setting 'max-incremental-cuont' (did you mean max-incremental-count?)",
            Assert.Throws<ConfigException>(() => ConfigLoader.LoadSource(work, SeriesPolicy.Default)).Message);
        File.WriteAllText(source, "type = rdiff\nschedule { a = 1 }\n");
        Assert.Equal($"{source}:2: unknown setting 'schedule'", Assert.Throws<ConfigException>(() => ConfigLoader.LoadSource(work, SeriesPolicy.Default)).Message);
        File.WriteAllText(source, "type = zip\n");
        Assert.Equal($"{source}: unknown backup type: zip", Assert.Throws<ConfigException>(() => ConfigLoader.LoadSource(work, SeriesPolicy.Default)).Message);

        var db = Path.Combine(Directory.CreateDirectory(Path.Combine(_dir, "db")).FullName, "shop.conf");
        File.WriteAllText(db, "# shop\nhots = \"/run/pg\"\n");
        Assert.Equal($"{db}:2: unknown setting 'hots' (did you mean host?)",
            Assert.Throws<ConfigException>(() => ConfigLoader.LoadDatabase(_dir, "shop", SeriesPolicy.Default)).Message);
        File.WriteAllText(db, "port = 0\n");
        Assert.Equal($"{db}:1: port must be a port number, not '0'",
            Assert.Throws<ConfigException>(() => ConfigLoader.LoadDatabase(_dir, "shop", SeriesPolicy.Default)).Message);
    }

    [Theory]
    [InlineData("a { type = tar, path = /s, dts = x }", 3, "sources.a: unknown setting 'dts' for a tar source (did you mean dst?)")]
    [InlineData("a { type = pg-dump, database = d, dst = x, hots = h }", 3, "sources.a: unknown setting 'hots' for a pg-dump source (did you mean host?)")]
    [InlineData("a = 3", 3, "sources.a must be a block: { type = ..., dst = ... }")]
    [InlineData("a { type = tar, path = /s, dst = x }\nb { type = rdiff, path = /t, dst = \"./x/\" }", 2, "sources a and b share the dst x: give each its own folder")]
    [InlineData("a { type = tar, path = /s, dst = x }\nb { type = pg-dump, database = d, dst = \"x/db\" }", 2, "sources a and b nest: the dst of b (x/db) is inside the dst of a (x): give each its own folder, side by side")]
    [InlineData("z { type = tar, path = /s, dst = \"x/y/z\" }\nb { type = rdiff, path = /t, dst = \"x/y\" }", 2, "sources b and z nest: the dst of z (x/y/z) is inside the dst of b (x/y): give each its own folder, side by side")]
    [InlineData("a { type = tar, path = /s, dst = \".\" }", 3, "sources.a: dst must name a folder inside the root path, not the root itself: '.'")]
    [InlineData("a { type = tar, path = /s, dst = \"x/..\" }", 3, "sources.a: dst cannot go above the root path: x/..")]
    public void Sources_refused_with_both_names(string sources, int line, string message) =>
        Assert.Equal($"{General}{(line > 0 ? ":" + line : "")}: {message}", RefuseGeneral("root-path = /b\nsources {\n" + sources + "\n}\n"));

    [Fact]
    public void Sources_side_by_side_with_a_common_prefix_are_fine()
    {
        File.WriteAllText(General, "root-path = /b\nsources {\n a { type = tar, path = /s, dst = www }\n b { type = tar, path = /t, dst = www2 }\n c { type = tar, path = /u, dst = \"./db//c/\" }\n}\n");
        Assert.Equal(["www", "www2", "db/c"], ConfigLoader.LoadGeneral(_dir).Sources.Select(s => s.Dst));
    }

    [Fact]
    public void Destinations_name_the_nearest_key() =>
        Assert.Equal($"{General}:2: destinations.a: unknown setting 'endpiont' (did you mean endpoint?)",
            RefuseGeneral("root-path = /b\ndestinations { a { uri = \"s3://b/\", endpiont = \"http://x\" } }\n"));

    [Theory]
    [InlineData("lock-timeout = 8d", "lock-timeout must be at most 7d, not '8d'")]
    [InlineData("lock-timeout = 99999999999999999999d", "lock-timeout must be a duration such as 0s, 90m, 24h or 7d, not '99999999999999999999d'")]
    [InlineData("defaults.max-incremental-span = 3651d", "defaults.max-incremental-span must be at most 3650d, not '3651d'")]
    [InlineData("defaults.max-incremental-span = -5s", "defaults.max-incremental-span must be a duration such as 0s, 90m, 24h or 7d, not '-5s'")]
    [InlineData("sync.history-window = 1e400", "sync.history-window must be a duration such as 0s, 90m, 24h or 7d, not '1e400'")]
    [InlineData("defaults.max-incremental-count = 99999999999999999999", "defaults.max-incremental-count must be a whole number of 0 or more, not '99999999999999999999'")]
    [InlineData("daemon.port = 0", "daemon.port must be a TCP port (1 to 65535), not '0'")]
    [InlineData("daemon.port = 65536", "daemon.port must be a TCP port (1 to 65535), not '65536'")]
    [InlineData("daemon.port = -1", "daemon.port must be a TCP port (1 to 65535), not '-1'")]
    [InlineData("run.parallelism = 100000", "run.parallelism must be a whole number from 1 to 256, not '100000'")]
    [InlineData("sync.snapshot-every = 0", "sync.snapshot-every must be a whole number from 1 to 1000000, not '0'")]
    [InlineData("root-path = \"a\\nb\"", "root-path cannot hold control characters (a line break, NUL...)")]
    [InlineData("root-path = \"/srv\\u0000/b\"", "root-path cannot hold control characters (a line break, NUL...)")]
    public void Every_value_is_range_checked(string text, string message) =>
        Assert.Equal($"{General}:2: {message}", RefuseGeneral("root-path = /b\n" + text + "\n"));

    [Theory]
    [InlineData("99999999999999999999d")]
    [InlineData("1e400")]
    [InlineData("99999999999999999999:00:00")]
    public void A_duration_too_long_to_be_one_is_no_duration(string text) => Assert.False(Durations.TryParse(text, out _));

    [Theory]
    [InlineData("", "the dst argument cannot be empty")]
    [InlineData(".", "the dst argument must name a folder inside the root path, not the root itself: '.'")]
    [InlineData("./", "the dst argument must name a folder inside the root path, not the root itself: './'")]
    [InlineData("x/..", "the dst argument cannot go above the root path: x/..")]
    [InlineData("..", "the dst argument cannot go above the root path: ..")]
    [InlineData("a/../../b", "the dst argument cannot go above the root path: a/../../b")]
    [InlineData("/abs", "the dst argument cannot be an absolute path")]
    [InlineData("a\nb", "the dst argument cannot hold control characters")]
    [InlineData("a\\b", "the dst argument 'a\\b' holds a backslash")]
    public void A_dst_names_a_folder_strictly_inside_root(string dst, string message) =>
        Assert.Equal(message, Assert.Throws<ConfigException>(() => SeriesPath.Check(dst)).Message);

    [Theory]
    [InlineData("www", "www")]
    [InlineData("./www/", "www")]
    [InlineData("db//shop", "db/shop")]
    [InlineData("./a/./b", "a/b")]
    public void A_dst_in_its_plain_form(string dst, string plain) => Assert.Equal(plain, SeriesPath.Check(dst));

    [Fact]
    public void Files_that_cannot_be_read_are_named_with_the_reason_in_words()
    {
        Directory.CreateDirectory(General);
        Assert.Equal($"cannot read {General}: it is a directory", Assert.Throws<ConfigException>(() => ConfigLoader.LoadGeneral(_dir)).Message);
        Directory.Delete(General);
        var s3cfg = Directory.CreateDirectory(Path.Combine(_dir, "s3cfg")).FullName;
        Assert.Equal($"{General}: cannot read the s3cmd configuration {s3cfg}: it is a directory",
            RefuseGeneral($"root-path = /b\ndestinations {{ a {{ uri = \"s3://b/\", s3cmd-config = \"{s3cfg}\" }} }}\n"));
        Assert.Equal($"{General}: cannot read the s3cmd configuration {s3cfg}/none: no such file",
            RefuseGeneral($"root-path = /b\ndestinations {{ a {{ uri = \"s3://b/\", s3cmd-config = \"{s3cfg}/none\" }} }}\n"));
        Assert.Equal("permission denied", ConfigException.Reason(new UnauthorizedAccessException("Access to the path '/x' is denied.")));
    }

    [Fact]
    public void A_legacy_config_py_with_a_nul_in_its_paths_is_refused_in_one_line()
    {
        var py = Path.Combine(_dir, "config.py");
        File.WriteAllText(py, "ROOT_PATH = \"/srv\\0/b\"\n");
        Assert.Equal("the root path cannot hold control characters (a line break, NUL...)", Assert.Throws<ConfigException>(() => ConfigLoader.LoadGeneral(_dir)).Message);
        File.WriteAllText(py, "ROOT_PATH = \"/srv\"\nS3_URI_PREFIX = \"s3://b/p/\"\nS3CMD_CONFIG = \"/root/\\0s3cfg\"\n");
        Assert.Equal("cannot read the s3cmd configuration /root/\\x00s3cfg: the path holds control characters", Assert.Throws<ConfigException>(() => ConfigLoader.LoadGeneral(_dir)).Message);
    }

    [Fact]
    public void A_refusal_quoting_a_line_break_stays_one_line() =>
        Assert.Equal("not 'a\\x0ab\\x1b[2J'", new ConfigException("not 'a\nb\u001b[2J'").Message);

    [Fact]
    public void An_unexpected_error_mentions_the_log_only_when_it_was_written()
    {
        var e = new InvalidOperationException("boom");
        Assert.Equal(["btw-backup: unexpected error: boom (the log has the details)"], ErrorReport.Lines(e));
        Assert.Equal(["btw-backup: unexpected error: boom"], ErrorReport.Lines(e, logged: false));
    }

    [Fact]
    public void The_reference_files_pass_every_check()
    {
        var repo = Path.Combine(AppContext.BaseDirectory, "../../../../..");
        File.WriteAllText(General, File.ReadAllText(Path.Combine(repo, "hocon/btw-backup.conf")).Replace("root-path = null", "root-path = /b", StringComparison.Ordinal));
        Assert.Equal("/b", ConfigLoader.LoadGeneral(_dir).RootPath);
        var work = Directory.CreateDirectory(Path.Combine(_dir, "w.abc")).FullName;
        File.Copy(Path.Combine(repo, "hocon/source.conf"), Path.Combine(work, "source.conf"));
        Assert.Equal((SourceType.Rdiff, SeriesPolicy.Default), ConfigLoader.LoadSource(work, SeriesPolicy.Default));
        Directory.CreateDirectory(Path.Combine(_dir, "db"));
        File.Copy(Path.Combine(repo, "hocon/database.conf"), Path.Combine(_dir, "db", "shop.conf"));
        Assert.Equal(SeriesPolicy.Default, ConfigLoader.LoadDatabase(_dir, "shop", SeriesPolicy.Default).Policy);
    }
}
