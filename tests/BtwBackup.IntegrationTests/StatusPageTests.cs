using System.Net;
using System.Text.Json;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using Xunit;
using Xunit.Abstractions;

namespace BtwBackup.IntegrationTests;

/// <summary>The daemon's web server: /metrics read by a Prometheus text parser, and the status page in Debian's chromium driven by Selenium.</summary>
[Collection(S3Collection.Name)]
public sealed class StatusPageTests : IAsyncLifetime
{
    private readonly S3TestServer _s3;
    private readonly ITestOutputHelper _output;
    private readonly Sandbox _box = new();
    private readonly string _prefix = "page-" + Guid.NewGuid().ToString("N")[..8] + "/";
    private readonly int _http = Sandbox.FreePort();
    private DaemonProcess? _daemon;

    public StatusPageTests(S3TestServer s3, ITestOutputHelper output)
    {
        _s3 = s3;
        _output = output;
        var good = _box.MakeTree("good");
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            daemon { port = {{Sandbox.FreePort()}}, schedule = "30 2 * * *" }
            http { port = {{_http}} }
            sources {
              good { type = tar, path = "{{good}}", dst = "good" }
              bad { type = rdiff, path = "{{Path.Combine(_box.Dir, "unmounted")}}", dst = "bad" }
            }
            destinations {
              offsite { uri = "s3://{{S3TestServer.Bucket}}/{{_prefix}}", s3cmd-config = "{{_s3.S3cmdConfig(_box.Dir)}}" }
            }
            """);
    }

    private string Url(string path) => $"http://127.0.0.1:{_http}{path}";

    public async Task InitializeAsync() => _daemon = await DaemonProcess.StartAsync(_box);

    public async Task DisposeAsync()
    {
        if (_daemon is not null)
            await _daemon.DisposeAsync();
        _box.Dispose();
    }

    private static Task<(HttpStatusCode Status, string Body)> GetAsync(string url, string? bearer = null, string? host = null) =>
        SendAsync(HttpMethod.Get, url, bearer, host);

    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpMethod method, string url, string? bearer = null, string? host = null, string? token = null)
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false });
        using var request = new HttpRequestMessage(method, url);
        if (bearer is not null)
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        if (host is not null)
            request.Headers.Host = host;
        if (token is not null)
            request.Content = new FormUrlEncodedContent([new KeyValuePair<string, string>("token", token)]);
        using var response = await client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>A form's submission navigates after the click returns: waits (at most 20 s) for what it leads to.</summary>
    private static async Task UntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the browser did not get there in 20 s");
            await Task.Delay(100);
        }
    }

    private string Token(string file) => File.ReadAllText(Path.Combine(_box.ConfigDir, file)).Trim();

    [Fact]
    public async Task Metrics_parsed_as_Prometheus_text_match_the_runs_that_happened()
    {
        Assert.Equal(1, (await _box.RunAsync("run")).ExitCode);
        await Sandbox.NextSecondAsync();
        File.WriteAllText(Path.Combine(_box.Dir, "good", "new-file"), "more");
        Assert.Equal(1, (await _box.RunAsync("run", "good", "bad")).ExitCode);
        Assert.Equal(0, (await _box.RunAsync("fs", Path.Combine(_box.Dir, "good"), "good")).ExitCode);

        // Only the web token opens /metrics: not nothing, not a wrong one, not the daemon's own.
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(Url("/metrics"))).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(Url("/metrics"), "0123456789abcdef0123456789abcdef")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(Url("/metrics"), Token("daemon.token"))).Status);
        var (status, text) = await GetAsync(Url("/metrics"), Token("web.token"));
        Assert.Equal(HttpStatusCode.OK, status);
        var (samples, types) = PrometheusText.Parse(text);

        using var doc = JsonDocument.Parse((await _box.RunAsync("status", "--history", "--json")).Stdout);
        var runs = doc.RootElement.GetProperty("runs").EnumerateArray().Select(r => (
            Kind: r.GetProperty("kind").GetString()!, Name: r.GetProperty("name").GetString()!, Result: r.GetProperty("result").GetString()!,
            Started: r.GetProperty("started").GetDateTime(), Ended: r.GetProperty("ended").GetDateTime(),
            Stored: r.GetProperty("stored").ValueKind == JsonValueKind.Number ? r.GetProperty("stored").GetInt64() : (long?)null,
            Uploaded: r.GetProperty("uploaded").ValueKind == JsonValueKind.Number ? r.GetProperty("uploaded").GetInt64() : (long?)null)).ToList();
        Assert.Equal(5, runs.Count(r => r.Kind == "source"));

        double Value(string name, params (string Key, string Value)[] labels) =>
            Assert.Single(samples, s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value)).Value;
        double Unix(DateTime t) => (t.ToUniversalTime() - DateTime.UnixEpoch).TotalSeconds;

        // Every source run counted once, by its result.
        foreach (var group in runs.Where(r => r.Kind == "source").GroupBy(r => (r.Name, r.Result)))
            Assert.Equal(group.Count(), Value("btw_backup_runs_total", ("source", group.Key.Name), ("result", group.Key.Result)));
        Assert.Equal(runs.Count(r => r.Kind == "source"), samples.Where(s => s.Name == "btw_backup_runs_total").Sum(s => s.Value));
        var lastGood = runs.Last(r => r.Kind == "source" && r.Name == "good");
        Assert.Equal(Unix(lastGood.Ended), Value("btw_backup_last_success_timestamp_seconds", ("source", "good")), precision: 3);
        Assert.Equal(Unix(lastGood.Ended), Value("btw_backup_last_run_timestamp_seconds", ("source", "good"), ("result", lastGood.Result)), precision: 3);
        Assert.Equal((lastGood.Ended - lastGood.Started).TotalSeconds, Value("btw_backup_duration_seconds", ("source", "good")), precision: 2);
        Assert.Equal(runs.Last(r => r.Name == "good" && r.Stored is not null).Stored!.Value, Value("btw_backup_stored_bytes", ("source", "good")));
        Assert.DoesNotContain(samples, s => s.Name == "btw_backup_last_success_timestamp_seconds" && s.Labels["source"] == "bad");
        Assert.Equal(Unix(runs.Last(r => r.Name == "bad").Ended), Value("btw_backup_last_run_timestamp_seconds", ("source", "bad"), ("result", "failed")), precision: 3);

        // The syncs: every byte uploaded, nothing pending, the last success.
        var syncs = runs.Where(r => r.Kind == "sync").ToList();
        Assert.Equal(3, syncs.Count);
        Assert.True(syncs.Sum(r => r.Uploaded ?? 0) > 0);
        Assert.Equal(syncs.Sum(r => r.Uploaded ?? 0), Value("btw_sync_uploaded_bytes_total", ("destination", "offsite")));
        Assert.Equal(0, Value("btw_sync_pending_paths", ("destination", "offsite")));
        Assert.Equal(Unix(syncs[^1].Ended), Value("btw_sync_last_success_timestamp_seconds", ("destination", "offsite")), precision: 3);
        Assert.Equal(0, Value("btw_actor_restarts_total", ("actor", "destination")));

        Assert.Equal("counter", types["btw_backup_runs_total"]);
        Assert.Equal("counter", types["btw_sync_uploaded_bytes_total"]);
        Assert.Equal("counter", types["btw_actor_restarts_total"]);
        Assert.Equal("gauge", types["btw_backup_last_success_timestamp_seconds"]);
        Assert.Equal("gauge", types["btw_sync_pending_paths"]);
    }

    [Fact]
    public async Task The_page_asks_for_the_token_then_shows_each_source_a_chart_and_the_failed_one_as_failed()
    {
        Assert.Equal(1, (await _box.RunAsync("run")).ExitCode);

        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,1000");
        using var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));

        // Without the cookie: the login form, nothing of the status.
        driver.Navigate().GoToUrl(Url("/"));
        Assert.EndsWith("/login", driver.Url, StringComparison.Ordinal);
        Assert.Empty(driver.FindElements(By.Id("sources")));
        Assert.DoesNotContain("good", driver.PageSource, StringComparison.Ordinal);

        driver.FindElement(By.Id("token")).SendKeys("not-the-token");
        driver.FindElement(By.CssSelector("form.login button")).Click();
        await UntilAsync(() => driver.FindElements(By.Id("wrong")).Count > 0);
        Assert.Contains("not the web token", driver.FindElement(By.Id("wrong")).Text, StringComparison.Ordinal);

        driver.FindElement(By.Id("token")).SendKeys(Token("web.token"));
        driver.FindElement(By.CssSelector("form.login button")).Click();
        await UntilAsync(() => driver.Url == Url("/") && driver.FindElements(By.Id("sources")).Count > 0);
        var cookie = driver.Manage().Cookies.GetCookieNamed("btw_session");
        Assert.NotNull(cookie);
        Assert.True(cookie.IsHttpOnly);
        Assert.NotEqual(Token("web.token"), cookie.Value);

        var good = driver.FindElement(By.CssSelector("#sources tr[data-source='good']"));
        var bad = driver.FindElement(By.CssSelector("#sources tr[data-source='bad']"));
        Assert.Equal("ok", good.GetAttribute("class"));
        Assert.Equal("full", good.FindElement(By.CssSelector("td.result")).Text);
        Assert.Equal("failed", bad.GetAttribute("class"));
        Assert.StartsWith("failed: the source path", bad.FindElement(By.CssSelector("td.result")).Text, StringComparison.Ordinal);
        Assert.Equal("rgba(176, 0, 32, 1)", bad.FindElement(By.CssSelector("td.result")).GetCssValue("color"));
        Assert.NotEmpty(driver.FindElements(By.CssSelector("figure.chart[data-source='good'] svg polyline.stored")));
        Assert.Contains("offsite", driver.FindElement(By.Id("destinations")).Text, StringComparison.Ordinal);
        Assert.Contains("bad", driver.FindElement(By.Id("errors")).Text, StringComparison.Ordinal);

        var shot = Path.Combine(AppContext.BaseDirectory, "artifacts", "status-page.png");
        Directory.CreateDirectory(Path.GetDirectoryName(shot)!);
        driver.GetScreenshot().SaveAsFile(shot);
        Assert.True(new FileInfo(shot).Length > 10_000);
        _output.WriteLine("screenshot: " + shot);

        // Log out: the session is gone, the same cookie opens nothing.
        driver.FindElement(By.CssSelector("header form button")).Click();
        await UntilAsync(() => driver.Url.EndsWith("/login", StringComparison.Ordinal));
        driver.Manage().Cookies.AddCookie(new OpenQA.Selenium.Cookie("btw_session", cookie.Value, "/"));
        driver.Navigate().GoToUrl(Url("/"));
        Assert.EndsWith("/login", driver.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_for_another_host_name_is_refused_and_the_page_sends_no_script_and_no_source_without_login()
    {
        // A site whose name was rebound to 127.0.0.1 sends its own Host: nothing is served to it.
        Assert.Equal(HttpStatusCode.MisdirectedRequest, (await GetAsync(Url("/login"), host: $"attacker.example:{_http}")).Status);
        Assert.Equal(HttpStatusCode.MisdirectedRequest, (await GetAsync(Url("/metrics"), Token("web.token"), host: $"attacker.example:{_http}")).Status);
        var (status, body) = await GetAsync(Url("/"));
        Assert.Equal(HttpStatusCode.Redirect, status);
        Assert.Equal("", body);
        var login = await GetAsync(Url("/login"));
        Assert.DoesNotContain("<script", login.Body, StringComparison.OrdinalIgnoreCase);
        // Without a session nothing but /login answers a stranger, not even whether a path exists.
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(Url("/etc/passwd"))).Status);
        // The web token as a bearer opens /metrics only, never the page.
        Assert.Equal(HttpStatusCode.Redirect, (await GetAsync(Url("/"), Token("web.token"))).Status);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_box.ConfigDir, "web.token")));
    }

    [Fact]
    public async Task No_spelling_of_the_metrics_path_and_no_method_opens_it_without_the_token_and_the_daemon_token_opens_nothing()
    {
        var paths = new[] { "/metrics", "/metrics/", "/METRICS", "/Metrics/", "/metrics/.", "/metrics/x", "/metrics%2F", "//metrics", "/metrics?x=1" };
        foreach (var path in paths)
        {
            foreach (var method in new[] { HttpMethod.Get, HttpMethod.Post, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Options, new HttpMethod("PROPFIND") })
            {
                var (status, body) = await SendAsync(method, Url(path));
                Assert.True(status is HttpStatusCode.Unauthorized or HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotFound, $"{method} {path}: {status}");
                Assert.DoesNotContain("btw_", body, StringComparison.Ordinal);
            }
        }

        // With the token, what answers is the metrics, by GET only.
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(Url("/metrics"), Token("web.token"))).Status);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await SendAsync(HttpMethod.Post, Url("/metrics"), Token("web.token"))).Status);

        // The daemon's token (which runs restores as root) is never typed into a browser: it opens nothing.
        var daemonToken = Token("daemon.token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(HttpMethod.Post, Url("/login"), token: daemonToken)).Status);
        Assert.Equal(HttpStatusCode.Redirect, (await SendAsync(HttpMethod.Post, Url("/login"), token: Token("web.token"))).Status);
        Assert.NotEqual(daemonToken, Token("web.token"));
    }

    [Fact]
    public async Task The_page_is_served_on_both_loopbacks_so_that_no_local_user_can_answer_for_localhost_on_the_other()
    {
        Assert.Equal(HttpStatusCode.OK, (await GetAsync($"http://[::1]:{_http}/login")).Status);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync($"http://127.0.0.1:{_http}/login", host: $"localhost:{_http}")).Status);
        // Nobody else can listen there while the daemon does.
        Assert.False(BtwBackup.Platform.PortHolder.IsFree(IPAddress.IPv6Loopback, _http));
        Assert.False(BtwBackup.Platform.PortHolder.IsFree(IPAddress.Loopback, _http));
    }
}

/// <summary>A port of the page taken before the daemon starts: the page is not served, the backups are.</summary>
public sealed class StatusPagePortTests : IDisposable
{
    private readonly Sandbox _box = new();

    public void Dispose() => _box.Dispose();

    [Fact]
    public async Task A_local_user_who_takes_the_page_port_first_does_not_stop_the_backups_and_is_named()
    {
        var http = Sandbox.FreePort();
        var tree = _box.MakeTree("tree");
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            daemon { port = {{Sandbox.FreePort()}} }
            http { port = {{http}} }
            sources {
              tree { type = tar, path = "{{tree}}", dst = "tree" }
            }
            """);
        // The squatter takes the IPv6 loopback only: a browser sent to localhost could reach it.
        using var squatter = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetworkV6, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(IPAddress.IPv6Loopback, http));
        squatter.Listen(1);

        await using var daemon = await DaemonProcess.StartAsync(_box);
        Assert.Contains($"stderr: btw-backup: the status page and /metrics are not served (http in {_box.ConfigDir}/btw-backup.conf): port {http} on ::1 is taken by pid {Environment.ProcessId}",
            daemon.Output, StringComparison.Ordinal);
        Assert.Contains("do not give it the web token", daemon.Output, StringComparison.Ordinal);
        Assert.Contains("the status page and /metrics are not served", File.ReadAllText(Path.Combine(_box.ConfigDir, "btw-backup.log")), StringComparison.Ordinal);
        // Nothing of the page on the free loopback either (a half page would invite a login).
        Assert.True(BtwBackup.Platform.PortHolder.IsFree(IPAddress.Loopback, http));

        var run = await _box.RunAsync("run");
        Assert.Equal(0, run.ExitCode);
        Assert.Single(Directory.GetFiles(Path.Combine(_box.Root, "tree"), "*.tbz"));
        Assert.Contains("sent to", File.ReadAllText(Path.Combine(_box.ConfigDir, "btw-backup.log")), StringComparison.Ordinal);
    }
}
