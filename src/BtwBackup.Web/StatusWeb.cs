using System.Net;
using System.Net.Sockets;
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
/// <item><c>/</c>: the status page, read-only, after a login with CONFIG_DIR/web.token (an HttpOnly,
/// SameSite=Strict cookie holding a random session id, never the token);</item>
/// <item><c>/metrics</c>: the metrics of <see cref="Telemetry"/> in Prometheus' text format
/// (OpenTelemetry's exporter), for a bearer token of web.token (or a session).</item>
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

    public static async Task<StatusWeb> StartAsync(GeneralSettings settings, HttpSettings http, IActorRef orchestrator, CancellationToken cancel)
    {
        var webToken = WebToken.Ensure(settings.ConfigDir);
        var addresses = Addresses(http);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "btw-backup", ContentRootPath = settings.ConfigDir });
        // The daemon has its own log; Kestrel's chatter stays out of it.
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            foreach (var address in addresses)
                k.Listen(address, http.Port);
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 16 * 1024;
            k.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            // Idle or slow connections cost a file descriptor each and go soon: a local user who
            // opens many can slow the page down but not hold it for long (see the README's threat model).
            k.Limits.MaxConcurrentConnections = 1024;
            k.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(15);
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(5);
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
        var hosts = AllowedHosts(http, addresses);
        var schedule = settings.Daemon.Schedule;

        app.Use(async (context, next) =>
        {
            var request = context.Request;
            if (!hosts.Contains(request.Host.Value ?? ""))
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
            var path = request.Path.Value ?? "/";
            var form = Is(path, "/login") || Is(path, "/logout");
            if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && !(form && HttpMethods.IsPost(request.Method)))
            {
                context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
                return;
            }

            // Closed unless opened: without a session, only the login form answers, and a bearer
            // token opens what is under /metrics (however the path is spelled) and nothing else.
            if (!form && !sessions.IsValid(request.Cookies[CookieName])
                && !(path.StartsWith("/metrics", StringComparison.OrdinalIgnoreCase) && Sessions.SameToken(Bearer(request), webToken)))
            {
                if (path == "/")
                {
                    context.Response.Redirect("/login", permanent: false);
                    return;
                }

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
            if (!Sessions.SameToken(form["token"].FirstOrDefault(), webToken))
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
        return new StatusWeb(app) { Address = string.Join(" and ", hosts.Where(h => !h.StartsWith("localhost:", StringComparison.Ordinal)).Select(h => "http://" + h)) };
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

    /// <summary>
    /// The addresses served: the configured one and, for 127.0.0.1 or ::1, the other loopback too
    /// when this machine has it. A browser sent to localhost tries both: a port left free on one
    /// of them could be taken by any local user, who would then answer with a login form of their own.
    /// </summary>
    public static IReadOnlyList<IPAddress> Addresses(HttpSettings http)
    {
        var other = http.Address.Equals(IPAddress.Loopback) ? IPAddress.IPv6Loopback : http.Address.Equals(IPAddress.IPv6Loopback) ? IPAddress.Loopback : null;
        return other is not null && Exists(other) ? [http.Address, other] : [http.Address];
    }

    /// <summary>True when this machine has the address (a socket can be bound to it).</summary>
    private static bool Exists(IPAddress address)
    {
        try
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(address, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The Host headers this server answers: its addresses with its port, and localhost when it holds every loopback.</summary>
    private static string[] AllowedHosts(HttpSettings http, IReadOnlyList<IPAddress> addresses)
    {
        var named = addresses.Select(a => (a.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{a}]" : a.ToString()) + ":" + http.Port);
        var localhost = http.Address.Equals(IPAddress.Loopback) || http.Address.Equals(IPAddress.IPv6Loopback);
        return [.. named, .. localhost ? new[] { $"localhost:{http.Port}" } : []];
    }

    /// <summary>The path is <paramref name="route"/>, in any case, with or without a final slash.</summary>
    private static bool Is(string path, string route) =>
        string.Equals(path.Length > 1 ? path.TrimEnd('/') : path, route, StringComparison.OrdinalIgnoreCase);

    public async ValueTask DisposeAsync()
    {
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(patience.Token);
        await _app.DisposeAsync();
    }
}
