using System.Globalization;
using System.Net;
using System.Text;
using BtwBackup.Monitoring;
using BtwBackup.Protocol;

namespace BtwBackup.Web;

/// <summary>
/// The status page, rendered on the server: plain HTML with inline SVG charts, no script at all
/// and nothing loaded from anywhere (the Content-Security-Policy forbids it). Every name and
/// error is HTML-encoded: they may come from S3 listings and archives.
/// </summary>
public static class StatusPage
{
    /// <summary>A scheduled pass is given this long to succeed before its sources show as late.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromHours(2);

    private const int ChartWidth = 640;
    private const int ChartHeight = 120;

    /// <param name="latestDue">The latest time a pass was due at or before a moment (the schedule's); null: no schedule.</param>
    public static string Render(string host, StatusReport status, HistoryReport history, DateTime now, Func<DateTime, DateTime?> latestDue)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>btw-backup on ").Append(E(host)).Append("</title>")
            .Append("<meta name=\"viewport\" content=\"width=device-width\"><style>").Append(Css).Append("</style></head><body>");
        html.Append("<header><h1>btw-backup on ").Append(E(host)).Append("</h1>")
            .Append("<form method=\"post\" action=\"/logout\"><button type=\"submit\">Log out</button></form></header>");
        html.Append("<p class=\"daemon\">Daemon ").Append(status.Daemon.Since is { } since ? "up since " + E(SummaryFormat.Time(since)) : "running")
            .Append(" · schedule: ").Append(status.Daemon.Schedule is { } s ? "<code>" + E(s) + "</code>" : "none (passes on demand)")
            .Append(status.Daemon.NextRun is { } next ? " · next pass " + E(SummaryFormat.Time(next)) : "")
            .Append(" · page made ").Append(E(SummaryFormat.Time(now))).Append("</p>");

        Sources(html, status, now, latestDue(now - Grace));
        Destinations(html, status);
        Charts(html, status, history);
        Errors(html, history);
        Cluster(html, status);
        html.Append("</body></html>");
        return html.ToString();
    }

    private static void Sources(StringBuilder html, StatusReport status, DateTime now, DateTime? due)
    {
        html.Append("<h2>Sources</h2>");
        if (status.Sources.IsEmpty)
        {
            html.Append("<p>No source is configured.</p>");
            return;
        }

        html.Append("<table id=\"sources\"><thead><tr><th>Source</th><th>Type</th><th>Series</th><th>Last result</th><th>Age</th><th>Took</th><th>Stored</th><th>Failures</th></tr></thead><tbody>");
        foreach (var source in status.Sources)
        {
            var last = source.Last;
            var failed = last is { Ok: false };
            var late = !failed && due is { } d && (last is null || last.Finished < d);
            var state = source.Busy ? "busy" : failed ? "failed" : last is null ? "never" : late ? "late" : "ok";
            html.Append("<tr class=\"").Append(state == "never" && late ? "late" : state).Append("\" data-source=\"").Append(E(source.Name)).Append("\"><td>").Append(E(source.Name))
                .Append("</td><td>").Append(E(source.Type)).Append("</td><td>").Append(E(source.Dst ?? "")).Append("</td><td class=\"result\">")
                .Append(state switch
                {
                    "busy" => "backing up now",
                    "never" => late ? "never backed up (late)" : "never backed up",
                    "late" => E(last!.Result) + " (late: the schedule's pass of " + E(SummaryFormat.Time(due!.Value)) + " did not succeed)",
                    "failed" => "failed: " + E(last!.Error ?? ""),
                    _ => E(last!.Result),
                })
                .Append("</td><td>").Append(last is null ? "" : E(Age(now - last.Finished))).Append("</td><td>")
                .Append(last is null ? "" : E(SummaryFormat.Seconds(last.Seconds))).Append("</td><td>")
                .Append(source.Usage is { } u ? E($"{u.Points} point{(u.Points == 1 ? "" : "s")}, {SummaryFormat.Bytes(u.Bytes)}") : "")
                .Append("</td><td>").Append(source.Restarts).Append("</td></tr>");
        }

        html.Append("</tbody></table>");
    }

    private static void Destinations(StringBuilder html, StatusReport status)
    {
        html.Append("<h2>Destinations</h2>");
        if (status.Destinations.IsEmpty)
        {
            html.Append("<p>None configured: the backups stay local.</p>");
            return;
        }

        html.Append("<table id=\"destinations\"><thead><tr><th>Destination</th><th>Pending</th><th>Last sync</th><th>Last error</th></tr></thead><tbody>");
        foreach (var d in status.Destinations)
        {
            var state = d.Pending is null ? "failed" : d.Pending > 0 ? "late" : "ok";
            html.Append("<tr class=\"").Append(state).Append("\"><td>").Append(E(d.Name)).Append("</td><td>")
                .Append(d.Pending is { } p ? p.ToString(CultureInfo.InvariantCulture) : "unknown (not answering)");
            if (!d.PendingPaths.IsEmpty)
                html.Append("<details><summary>paths</summary><ul>").AppendJoin("", d.PendingPaths.Take(50).Select(x => "<li>" + E(x) + "</li>")).Append("</ul></details>");
            html.Append("</td><td>").Append(d.LastSync is { } at ? E(SummaryFormat.Time(at)) : "never").Append("</td><td>")
                .Append(d.LastError is { } error ? E(error) + (d.LastErrorAt is { } when ? " <small>(" + E(SummaryFormat.Time(when)) + ")</small>" : "") : "")
                .Append("</td></tr>");
        }

        html.Append("</tbody></table>");
    }

    /// <summary>Per source, one chart: stored size (blue) and duration (orange) of each run over the history kept; failures as red marks.</summary>
    private static void Charts(StringBuilder html, StatusReport status, HistoryReport history)
    {
        html.Append("<h2>Size and duration over time</h2>");
        var bySource = history.Runs.Where(r => r.Kind == RunRecord.SourceKind).GroupBy(r => r.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var names = status.Sources.Select(s => s.Name).Concat(bySource.Keys).Distinct(StringComparer.Ordinal).Where(bySource.ContainsKey).ToList();
        if (names.Count == 0)
        {
            html.Append("<p>No run kept yet.</p>");
            return;
        }

        html.Append("<p class=\"legend\"><span class=\"stored\">■</span> stored per backup · <span class=\"duration\">■</span> duration · <span class=\"fail\">■</span> failed</p>");
        foreach (var name in names)
            html.Append("<figure class=\"chart\" data-source=\"").Append(E(name)).Append("\"><figcaption>").Append(E(name)).Append("</figcaption>")
                .Append(Chart(name, bySource[name])).Append("</figure>");
    }

    /// <summary>An SVG of a source's runs: x by time, stored bytes and seconds each scaled to its own maximum.</summary>
    public static string Chart(string name, IReadOnlyList<RunRecord> runs)
    {
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{ChartWidth}\" height=\"{ChartHeight + 20}\" viewBox=\"0 0 {ChartWidth} {ChartHeight + 20}\" role=\"img\">");
        var first = runs[0].Ended;
        var last = runs[^1].Ended;
        var span = Math.Max(1, (last - first).TotalSeconds);
        var maxStored = Math.Max(1, runs.Max(r => r.Stored ?? 0));
        var maxSeconds = Math.Max(0.1, runs.Max(r => r.Seconds));
        double X(RunRecord r) => 4 + (ChartWidth - 8) * ((r.Ended - first).TotalSeconds / span);
        double Y(double value, double max) => ChartHeight - 4 - (ChartHeight - 8) * (value / max);
        svg.Append("<title>").Append(E($"{name}: {runs.Count} runs from {SummaryFormat.Time(first)} to {SummaryFormat.Time(last)}; largest stored {SummaryFormat.Bytes(maxStored)}, longest {SummaryFormat.Seconds(maxSeconds)}")).Append("</title>");
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"0\" y=\"0\" width=\"{ChartWidth}\" height=\"{ChartHeight}\" class=\"frame\"/>");
        var stored = runs.Where(r => r.Stored is not null).Select(r => P(X(r), Y(r.Stored!.Value, maxStored))).ToList();
        if (stored.Count > 0)
            svg.Append("<polyline class=\"stored\" points=\"").AppendJoin(' ', stored).Append("\"/>");
        var durations = runs.Where(r => r.Ok).Select(r => P(X(r), Y(r.Seconds, maxSeconds))).ToList();
        if (durations.Count > 0)
            svg.Append("<polyline class=\"duration\" points=\"").AppendJoin(' ', durations).Append("\"/>");
        // Few runs: each is a dot too (a single run draws no line).
        if (runs.Count <= 60)
        {
            foreach (var r in runs.Where(r => r.Stored is not null))
                svg.Append(CultureInfo.InvariantCulture, $"<circle class=\"stored\" cx=\"{X(r):0.#}\" cy=\"{Y(r.Stored!.Value, maxStored):0.#}\" r=\"2.5\"/>");
            foreach (var r in runs.Where(r => r.Ok))
                svg.Append(CultureInfo.InvariantCulture, $"<circle class=\"duration\" cx=\"{X(r):0.#}\" cy=\"{Y(r.Seconds, maxSeconds):0.#}\" r=\"2.5\"/>");
        }

        foreach (var failure in runs.Where(r => !r.Ok))
            svg.Append(CultureInfo.InvariantCulture, $"<line class=\"fail\" x1=\"{X(failure):0.#}\" y1=\"{ChartHeight - 14}\" x2=\"{X(failure):0.#}\" y2=\"{ChartHeight}\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"4\" y=\"12\" class=\"stored\">{(stored.Count == 0 ? "" : E(SummaryFormat.Bytes(maxStored)))}</text>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{ChartWidth - 4}\" y=\"12\" text-anchor=\"end\" class=\"duration\">{E(SummaryFormat.Seconds(maxSeconds))}</text>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"4\" y=\"{ChartHeight + 15}\">{E(first.ToLocalTime().ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))}</text>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{ChartWidth - 4}\" y=\"{ChartHeight + 15}\" text-anchor=\"end\">{E(last.ToLocalTime().ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))}</text>");
        return svg.Append("</svg>").ToString();
    }

    private static void Errors(StringBuilder html, HistoryReport history)
    {
        html.Append("<h2>Last errors</h2>");
        var failures = history.Runs.Where(r => !r.Ok).Reverse().Take(10).ToList();
        if (failures.Count == 0)
        {
            html.Append("<p>None in the history kept.</p>");
            return;
        }

        html.Append("<table id=\"errors\"><thead><tr><th>When</th><th>What</th><th>Error</th></tr></thead><tbody>");
        foreach (var f in failures)
            html.Append("<tr class=\"failed\"><td>").Append(E(SummaryFormat.Time(f.Ended))).Append("</td><td>").Append(E($"{f.Kind} {f.Name}"))
                .Append("</td><td>").Append(E(f.Error ?? f.Result)).Append("</td></tr>");
        html.Append("</tbody></table>");
    }

    private static void Cluster(StringBuilder html, StatusReport status)
    {
        if (status.Cluster is not { } cluster)
            return;
        html.Append("<h2>Cluster</h2><table id=\"cluster\"><thead><tr><th>Host</th><th>Address</th><th>Status</th><th>Reachable</th><th>Role</th></tr></thead><tbody>");
        foreach (var m in cluster.Members)
            html.Append("<tr class=\"").Append(m.Reachable && m.Status == "up" ? "ok" : "failed").Append("\"><td>").Append(E(m.Host ?? "?")).Append("</td><td>")
                .Append(E(m.Address)).Append("</td><td>").Append(E(m.Status)).Append("</td><td>").Append(m.Reachable ? "yes" : "no").Append("</td><td>")
                .Append(m.Host is not null && m.Host == cluster.Director ? "director" : "").Append(m.Host == cluster.Self ? " (this node)" : "").Append("</td></tr>");
        html.Append("</tbody></table>");
        if (status.Hosts is not { IsEmpty: false } hosts)
            return;
        html.Append("<h2>The other hosts' sources</h2><table id=\"hosts\"><thead><tr><th>Host</th><th>Source</th><th>Last result</th><th>When</th></tr></thead><tbody>");
        foreach (var h in hosts)
        {
            if (h.Status is not { } other)
            {
                html.Append("<tr class=\"failed\"><td>").Append(E(h.Host)).Append("</td><td colspan=\"3\">").Append(E(h.Problem ?? "no answer")).Append("</td></tr>");
                continue;
            }

            foreach (var s in other.Sources)
                html.Append("<tr class=\"").Append(s.Last is { Ok: false } ? "failed" : s.Last is null ? "never" : "ok").Append("\"><td>").Append(E(h.Host)).Append("</td><td>")
                    .Append(E(s.Name)).Append("</td><td class=\"result\">").Append(s.Last is { } l ? E(l.Ok ? l.Result : "failed: " + l.Error) : "never backed up")
                    .Append("</td><td>").Append(s.Last is { } r ? E(SummaryFormat.Time(r.Finished)) : "").Append("</td></tr>");
        }

        html.Append("</tbody></table>");
    }

    /// <summary>The login form; <paramref name="wrong"/>: after a token that did not match.</summary>
    public static string Login(bool wrong) =>
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>btw-backup: log in</title><style>" + Css + "</style></head><body>"
        + "<h1>btw-backup</h1><form method=\"post\" action=\"/login\" class=\"login\"><label for=\"token\">Web token (the content of web.token in the configuration directory; never the daemon's token)</label>"
        + "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required autofocus>"
        + "<button type=\"submit\">Log in</button>" + (wrong ? "<p class=\"failed\" id=\"wrong\">That is not the web token.</p>" : "") + "</form></body></html>";

    public static string Age(TimeSpan age) => age switch
    {
        { TotalMinutes: < 1 } => "just now",
        { TotalHours: < 1 } => $"{(int)age.TotalMinutes} min ago",
        { TotalDays: < 2 } => $"{(int)age.TotalHours} h ago",
        _ => $"{(int)age.TotalDays} days ago",
    };

    private static string P(double x, double y) => string.Create(CultureInfo.InvariantCulture, $"{x:0.#},{y:0.#}");

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private const string Css = """
        body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:72em}
        header{display:flex;justify-content:space-between;align-items:center}
        h1{font-size:1.4em;margin:0}h2{font-size:1.1em;margin-top:1.5em}
        table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd;vertical-align:top}
        tr.failed td.result,tr.failed td:first-child,p.failed{color:#b00020;font-weight:600}
        tr.late td.result,tr.late td:first-child{color:#b00020;font-weight:600}
        tr.failed{background:#fde8ea}tr.late{background:#fde8ea}tr.ok td.result{color:#1b5e20}
        .daemon{color:#555}.chart{margin:.5em 0}.chart figcaption{font-weight:600}
        svg .frame{fill:#fafafa;stroke:#ccc}svg polyline{fill:none;stroke-width:1.5}
        svg .stored,.legend .stored{stroke:#1565c0;color:#1565c0;fill:#1565c0}
        svg .duration,.legend .duration{stroke:#ef6c00;color:#ef6c00;fill:#ef6c00}
        svg polyline.stored,svg polyline.duration{fill:none}
        svg .fail,.legend .fail{stroke:#b00020;color:#b00020;stroke-width:2}
        svg text{font-size:11px;fill:#555;stroke:none}svg text.stored,svg text.duration{stroke:none}
        form.login{display:flex;flex-direction:column;gap:.5em;max-width:28em}
        """;
}
