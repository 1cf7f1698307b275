using Akka.Actor;
using BtwBackup.Config;
using BtwBackup.Monitoring;
using BtwBackup.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace BtwBackup.Web;

/// <summary>
/// The daemon's web server (http block of btw-backup.conf), Kestrel inside the daemon's process,
/// on a loopback address only:
/// <list type="bullet">
/// <item><c>/</c>: the status page, read-only, after a login with the daemon's token (an HttpOnly,
/// SameSite=Strict cookie holding a random session id, never the token);</item>
/// <item><c>/metrics</c>: the metrics of <see cref="Telemetry"/> in Prometheus' text format
/// (OpenTelemetry's exporter), for a bearer token of CONFIG_DIR/metrics.token (or a session).</item>
/// </list>
/// A request whose Host is not this server's loopback address is refused (a page of another site
/// that rebinds its name to 127.0.0.1 reads nothing). Nothing is served from elsewhere: a strict
/// Content-Security-Policy without scripts.
/// </summary>
public sealed class StatusWeb : IAsyncDisposable
{
    public const string CookieName = "btw_session";

    private readonly WebApplication _app;

    private StatusWeb(WebApplication app) => _app = app;

    /// <summary>Where it listens, e.g. http://127.0.0.1:8080.</summary>
    public string Address { get; private init; } = "";

    public static async Task<StatusWeb> StartAsync(GeneralSettings settings, HttpSettings http, IActorRef orchestrator, string daemonToken, CancellationToken cancel)
    {
        var metricsToken = MetricsToken.Ensure(settings.ConfigDir);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "btw-backup", ContentRootPath = settings.ConfigDir });
        // The daemon has its own log; Kestrel's chatter stays out of it.
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(http.Address, http.Port);
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 16 * 1024;
            k.Limits.MaxConcurrentConnections = 64;
        });
        builder.Services.AddOpenTelemetry().ConfigureResource(r => r.AddService("btw-backup", serviceVersion: null, serviceInstanceId: settings.Cluster?.Host ?? Environment.MachineName))
            .WithMetrics(metrics => metrics
            .AddMeter(Telemetry.MeterName)
            .AddPrometheusExporter(o =>
            {
                o.ScrapeResponseCacheDurationMilliseconds = 0;
                o.ScopeInfoEnabled = false;
            }));
        var app = builder.Build();
        var sessions = new Sessions(TimeProvider.System);
        var hosts = AllowedHosts(http);
        var schedule = settings.Daemon.Schedule;

        app.Use(async (context, next) =>
        {
            if (!hosts.Contains(context.Request.Host.Value ?? ""))
            {
                context.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
                return;
            }

            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.XFrameOptions = "DENY";
            headers.CacheControl = "no-store";
            if (context.Request.Path == "/metrics" && !sessions.IsValid(context.Request.Cookies[CookieName])
                && !Sessions.SameToken(Bearer(context.Request), metricsToken))
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                headers.WWWAuthenticate = "Bearer realm=\"btw-backup metrics\"";
                return;
            }

            await next(context);
        });
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGet("/login", () => Results.Content(StatusPage.Login(wrong: false), "text/html; charset=utf-8"));
        app.MapPost("/login", async (HttpContext context) =>
        {
            var form = await context.Request.ReadFormAsync(context.RequestAborted);
            if (!Sessions.SameToken(form["token"].FirstOrDefault(), daemonToken))
            {
                // A guess costs a second: the token has 256 bits, this keeps the log and the CPU quiet.
                await Task.Delay(TimeSpan.FromSeconds(1), context.RequestAborted);
                return Results.Content(StatusPage.Login(wrong: true), "text/html; charset=utf-8", statusCode: StatusCodes.Status401Unauthorized);
            }

            context.Response.Cookies.Append(CookieName, sessions.Open(), new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Strict,
                Path = "/",
                MaxAge = Sessions.Lifetime,
                IsEssential = true,
            });
            return Results.Redirect("/", permanent: false);
        }).DisableAntiforgery();
        app.MapPost("/logout", (HttpContext context) =>
        {
            sessions.Close(context.Request.Cookies[CookieName]);
            context.Response.Cookies.Delete(CookieName);
            return Results.Redirect("/login", permanent: false);
        }).DisableAntiforgery();
        app.MapGet("/", async (HttpContext context) =>
        {
            if (!sessions.IsValid(context.Request.Cookies[CookieName]))
                return Results.Redirect("/login", permanent: false);
            var status = await AskAsync(orchestrator, new ShowStatus(false), context.RequestAborted);
            var history = await AskAsync(orchestrator, new ShowStatus(false) { History = true }, context.RequestAborted);
            if (status.Report is not StatusReport report || history.Report is not HistoryReport runs)
                return Results.Content("<!DOCTYPE html><title>btw-backup</title><p>The daemon could not say its status: "
                    + System.Net.WebUtility.HtmlEncode(string.Join(" ", status.Stderr.Concat(history.Stderr))) + "</p>", "text/html; charset=utf-8", statusCode: 503);
            var host = settings.Cluster?.Host ?? Environment.MachineName;
            return Results.Content(StatusPage.Render(host, report, runs, DateTime.UtcNow, t => LatestDue(schedule, t)), "text/html; charset=utf-8");
        });

        await app.StartAsync(cancel);
        return new StatusWeb(app) { Address = $"http://{hosts[0]}" };
    }

    /// <summary>The latest time the schedule fired at or before <paramref name="at"/> (within 35 days); null without a schedule.</summary>
    public static DateTime? LatestDue(Cronos.CronExpression? schedule, DateTime at)
    {
        if (schedule is null)
            return null;
        foreach (var days in new[] { 2, 35 })
        {
            var from = DateTime.SpecifyKind(at.AddDays(-days), DateTimeKind.Utc);
            DateTime? latest = null;
            foreach (var t in schedule.GetOccurrences(from, DateTime.SpecifyKind(at, DateTimeKind.Utc), TimeZoneInfo.Local, fromInclusive: true, toInclusive: true))
                latest = t;
            if (latest is not null)
                return latest;
        }

        return null;
    }

    private static async Task<CommandReply> AskAsync(IActorRef orchestrator, CliCommand command, CancellationToken cancel) =>
        await orchestrator.Ask<CommandReply>(new ExecuteCommand(command, null), TimeSpan.FromSeconds(15), cancel);

    private static string? Bearer(HttpRequest request)
    {
        var header = request.Headers.Authorization.FirstOrDefault();
        return header is not null && header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..] : null;
    }

    /// <summary>The Host headers this server answers: its address and localhost, with its port.</summary>
    private static string[] AllowedHosts(HttpSettings http)
    {
        var address = http.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{http.Address}]" : http.Address.ToString();
        return [$"{address}:{http.Port}", $"localhost:{http.Port}"];
    }

    public async ValueTask DisposeAsync()
    {
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(patience.Token);
        await _app.DisposeAsync();
    }
}
