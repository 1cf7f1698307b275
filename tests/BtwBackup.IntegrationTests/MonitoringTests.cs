using System.Text.Json;
using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>The monitoring block: healthchecks pings and the webhook, received by a local HTTP server; and the run history across a daemon's restart.</summary>
public sealed class MonitoringTests : IDisposable
{
    private readonly Sandbox _box = new();
    private readonly HttpReceiver _receiver = new();

    public void Dispose()
    {
        _receiver.Dispose();
        _box.Dispose();
    }

    private string Log => File.ReadAllText(Path.Combine(_box.ConfigDir, "btw-backup.log"));

    [Fact]
    public async Task A_pass_with_a_failing_source_pings_start_and_success_for_the_good_one_and_start_and_fail_with_the_log_for_the_bad_one()
    {
        var good = _box.MakeTree("good");
        var gone = Path.Combine(_box.Dir, "unmounted-disk");
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            sources {
              good { type = tar, path = "{{good}}", dst = "good", monitoring { healthchecks { url = "{{_receiver.Url("good")}}" } } }
              bad { type = rdiff, path = "{{gone}}", dst = "bad", monitoring { healthchecks { url = "{{_receiver.Url("bad")}}" } } }
            }
            monitoring {
              healthchecks { url = "{{_receiver.Url("pass")}}" }
              webhook { url = "{{_receiver.Url("hook")}}" }
            }
            """);

        var run = await _box.RunAsync("run");
        Assert.Equal(1, run.ExitCode);

        // The CLI waits for its pings before it exits: all are there when it returns.
        var all = _receiver.All;
        Assert.All(all, r => Assert.Equal("POST", r.Method));
        string[] Paths(string check) => [.. all.Where(r => r.Path.StartsWith("/" + check, StringComparison.Ordinal)).Select(r => r.Path)];
        Assert.Equal(["/good/start", "/good"], Paths("good"));
        Assert.Equal(["/bad/start", "/bad/fail"], Paths("bad"));
        Assert.Equal(["/pass/start", "/pass/fail"], Paths("pass"));
        Assert.Equal("good: full", all.Single(r => r.Path == "/good").Body);

        // A failure's body: what failed, then the log's last lines of this run, at most 100 kB. A
        // source's check gets only its own actor's lines (the URL may belong to someone else), never
        // the CLI's lines (the command line) nor the other sources'.
        var badFail = all.Single(r => r.Path == "/bad/fail").Body;
        Assert.StartsWith($"bad: the source path {gone} does not exist\n", badFail, StringComparison.Ordinal);
        Assert.DoesNotContain("cli:", badFail, StringComparison.Ordinal);
        Assert.DoesNotContain("source-good", badFail, StringComparison.Ordinal);
        var passFail = all.Single(r => r.Path == "/pass/fail").Body;
        Assert.StartsWith($"bad: the source path {gone} does not exist\n", passFail, StringComparison.Ordinal);
        Assert.DoesNotContain("good:", passFail.Split("---")[0], StringComparison.Ordinal);
        Assert.Contains("--- the last lines of the log ---", passFail, StringComparison.Ordinal);
        Assert.Contains("/user/orchestrator: pass: 2 source(s)", passFail, StringComparison.Ordinal);
        Assert.DoesNotContain("cli:", passFail, StringComparison.Ordinal);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(passFail) <= 100_000);

        var hook = all.Single(r => r.Path == "/hook");
        Assert.StartsWith("application/json", hook.ContentType, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(hook.Body);
        Assert.Equal("pass", doc.RootElement.GetProperty("event").GetString());
        Assert.False(doc.RootElement.GetProperty("ok").GetBoolean());
        var sources = doc.RootElement.GetProperty("pass").GetProperty("sources").EnumerateArray()
            .ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("run").GetProperty("result").GetString());
        Assert.Equal(new Dictionary<string, string?> { ["bad"] = "failed", ["good"] = "full" }, sources);
        Assert.Equal($"bad: the source path {gone} does not exist", Assert.Single(doc.RootElement.GetProperty("errors").EnumerateArray()).GetString());
    }

    [Fact]
    public async Task An_unreachable_ping_url_is_a_warning_in_the_log_and_changes_nothing_of_the_pass()
    {
        var good = _box.MakeTree("good");
        var closed = Sandbox.FreePort();
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            sources {
              good { type = tar, path = "{{good}}", dst = "good" }
            }
            monitoring {
              healthchecks { url = "http://127.0.0.1:{{closed}}/0f1e2d3c-secret-uuid" }
              retries = 1
              timeout = 2s
            }
            """);

        var run = await _box.RunAsync("run");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(@"^pass started .*: all good$", run.StdoutLines[0]);
        Assert.Equal("", run.Stderr);
        Assert.Single(Directory.GetFiles(Path.Combine(_box.Root, "good"), "*.tbz"));
        Assert.Contains($"monitoring: a ping to http://127.0.0.1:{closed}/... failed (the backups are not affected)", Log, StringComparison.Ordinal);
        // The check's secret (its path) never lands in the log.
        Assert.DoesNotContain("secret-uuid", Log, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("monitoring { healthchecks { url = \"ftp://example.org/x\" } }", "monitoring.healthchecks.url must be an http or https URL, not 'ftp://example.org/x'")]
    [InlineData("monitoring { webhook { url = \"https://user:pw@example.org/x\" } }", "monitoring.webhook.url: a URL with a user name or password is refused")]
    [InlineData("http { port = 8080, hostname = \"0.0.0.0\" }", "http.hostname must be a loopback address (127.0.0.1 or ::1), not '0.0.0.0'")]
    public async Task A_monitoring_or_http_setting_that_cannot_be_used_is_one_line(string block, string expected)
    {
        _box.WriteConfig($"root-path = \"{_box.Root}\"\n{block}\n");
        var status = await _box.RunAsync("status");
        Assert.Equal(1, status.ExitCode);
        Assert.Contains(expected, status.Stderr, StringComparison.Ordinal);
        Assert.Single(status.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("pw@", status.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_source_monitoring_block_with_anything_but_a_healthchecks_url_is_refused()
    {
        var good = _box.MakeTree("good");
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            sources {
              good { type = tar, path = "{{good}}", dst = "good", monitoring { healthchecks { uri = "https://example.org/x" } } }
            }
            """);
        var status = await _box.RunAsync("status");
        Assert.Equal(1, status.ExitCode);
        Assert.Contains("sources.good.monitoring must be monitoring { healthchecks { url = \"https://...\" } }", status.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_run_history_survives_a_restart_of_the_daemon_and_is_read_with_and_without_it()
    {
        var good = _box.MakeTree("good");
        var gone = Path.Combine(_box.Dir, "gone");
        var port = Sandbox.FreePort();
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            daemon { port = {{port}} }
            sources {
              good { type = tar, path = "{{good}}", dst = "good" }
              bad { type = tar, path = "{{gone}}", dst = "bad" }
            }
            """);

        await using (var daemon = await DaemonProcess.StartAsync(_box))
        {
            Assert.Equal(1, (await _box.RunAsync("run")).ExitCode);
            await Sandbox.NextSecondAsync();
            Assert.Equal(1, (await _box.RunAsync("run", "good", "bad")).ExitCode);
            await daemon.TerminateAsync();
        }

        // Without a daemon, then through a new one: the same four runs, oldest first.
        var offline = await _box.RunAsync("status", "--history");
        await using var again = await DaemonProcess.StartAsync(_box);
        var online = await _box.RunAsync("status", "--history");
        Assert.True(online.ExitCode == 0, online.ToString());
        Assert.Equal(offline.Stdout, online.Stdout);
        var lines = online.StdoutLines;
        Assert.Equal(4, lines.Length);
        Assert.Equal(2, lines.Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d  source  bad   failed +\d+\.\d s  the source path {gone} does not exist$")));
        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  source  good  full +\d+\.\d s  stored \d+(\.\d)? (B|KiB)$", lines.First(l => l.Contains(" good ", StringComparison.Ordinal)));
        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  source  good  unchanged +\d+\.\d s$", lines.Last(l => l.Contains(" good ", StringComparison.Ordinal)));

        var json = await _box.RunAsync("status", "--history", "good", "--json");
        using var doc = JsonDocument.Parse(json.Stdout);
        Assert.Equal(["full", "unchanged"], doc.RootElement.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("result").GetString()));
        var since = await _box.RunAsync("status", "--history", "--since", DateTime.UtcNow.AddDays(1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("no runs kept since ", since.Stdout[..19]);
        var unknown = await _box.RunAsync("status", "--history", "nosuch");
        Assert.Equal(new RunResult(1, "", $"btw-backup: nosuch is not a source or a destination of {Path.Combine(_box.ConfigDir, "btw-backup.conf")}, and the history keeps no run of it\n"), unknown);
    }
}
