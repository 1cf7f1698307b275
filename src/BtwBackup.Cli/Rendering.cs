using System.Collections.Immutable;
using System.Text.Json;
using BtwBackup.Protocol;
using BtwBackup.Restore;
using static BtwBackup.Protocol.SummaryFormat;

namespace BtwBackup.Cli;

/// <summary>What the CLI prints for a reply, and the exit code it returns.</summary>
public sealed record RenderedReply(ExitCode ExitCode, ImmutableList<string> Stdout, ImmutableList<string> Stderr);

/// <summary>
/// Turns a <see cref="CommandReply"/> into the lines the CLI prints, the same for a command
/// that ran in-process and for one the daemon ran: its lines as they are, then its
/// <see cref="Report"/> as text for a person or as JSON (snake_case, UTC times) when the
/// command asked for <c>--json</c>. The report's problems are counted on stderr, before the
/// reply's own error lines.
/// </summary>
public static class Rendering
{
    public static RenderedReply Render(CliCommand command, CommandReply reply)
    {
        if (reply.Report is not { } report)
            return new RenderedReply(reply.ExitCode, reply.Stdout, reply.Stderr);
        // A rendered line is one line on the terminal: a line break inside a name or an error (a
        // file name of the backed-up tree, a server's reply) is shown as \x0a, never a forged line.
        IEnumerable<string> body = WantsJson(command) ? [Json(report)] : Lines(report).Select(TerminalText.Printable);
        return new RenderedReply(reply.ExitCode, [.. reply.Stdout, .. body], [.. Problems(report).Select(TerminalText.Printable), .. reply.Stderr]);
    }

    private static bool WantsJson(CliCommand command) => command switch
    {
        RunPass r => r.Json,
        ShowStatus s => s.Json,
        VerifyBackups v => v.Json,
        PruneSeries p => p.Json,
        _ => false,
    };

    /// <summary>The report as its own type: the JSON a program reads has no wire discriminator.</summary>
    public static string Json(Report report) => JsonSerializer.Serialize(report, report.GetType(), SummaryFormat.Json);

    public static IEnumerable<string> Lines(Report report) => report switch
    {
        PassSummary pass => Lines(pass),
        ClusterPassSummary cluster => Lines(cluster),
        StatusReport status => Lines(status),
        VerifyReport verify => Lines(verify),
        PruneReport prune => Lines(prune),
        SyncStateListing listing => Lines(listing),
        Monitoring.HistoryReport history => Lines(history),
        _ => throw new ArgumentException("no rendering for " + report.GetType().Name, nameof(report)),
    };

    /// <summary>The one-line counts a failed report adds to stderr.</summary>
    public static IEnumerable<string> Problems(Report report)
    {
        switch (report)
        {
            case PassSummary pass:
                var failed = pass.Sources.Count(s => !s.Run.Ok);
                if (failed > 0)
                    yield return $"{ErrorReport.Prefix}{failed} of {pass.Sources.Count} source{(pass.Sources.Count == 1 ? "" : "s")} failed";
                if (pass.Pruned.Count(p => p.Error is not null) is > 0 and var unpruned)
                    yield return $"{ErrorReport.Prefix}{unpruned} series could not be pruned";
                if (pass.Destinations.Any(d => !d.Ok))
                    yield return $"{ErrorReport.Prefix}some files were not synced; they stay pending for the next sync";
                break;
            case ClusterPassSummary cluster:
                foreach (var h in cluster.Hosts.Where(h => h.Pass is null || h.Errors.Count > 0))
                    foreach (var line in h.Errors.DefaultIfEmpty("did not answer"))
                        yield return $"{ErrorReport.Prefix}{h.Host}: {ErrorReport.Bare(line)}";
                foreach (var h in cluster.Hosts.Where(h => h.Pass is not null))
                    foreach (var line in Problems(h.Pass!))
                        yield return $"{ErrorReport.Prefix}{h.Host}: {ErrorReport.Bare(line)}";
                break;
            case VerifyReport { Ok: false } verify:
                yield return $"{ErrorReport.Prefix}verify found {verify.Series.Sum(s => s.Problems.Count) + verify.Destinations.Sum(d => d.Problems.Count)} problem(s)";
                break;
            case PruneReport prune:
                foreach (var s in prune.Series.Where(s => s.Error is not null))
                    yield return ErrorReport.Prefix + s.Error;
                break;
        }
    }

    public static IEnumerable<string> Lines(PassSummary pass)
    {
        yield return $"pass started {Time(pass.Started)}, {Seconds(pass.Seconds)}: {(pass.Ok ? "all good" : "with failures")}";
        if (pass.Sources.IsEmpty)
            yield return "  no source";
        var width = pass.Sources.Select(s => s.Name.Length).DefaultIfEmpty(0).Max();
        foreach (var s in pass.Sources)
            yield return $"  {s.Name.PadRight(width)}  {RunText(s.Run)}";
        foreach (var p in pass.Pruned)
            yield return p.Error is null ? $"  pruned {p.Dst}: removed {p.Removed} point(s), kept {p.Kept}" : $"  not pruned {p.Dst}: {p.Error}";
        foreach (var d in pass.Destinations)
        {
            yield return $"  -> {d.Name}: uploaded {d.Uploaded} ({Bytes(d.BytesUploaded)}), deleted {d.Deleted}, still pending {d.Pending}";
            foreach (var f in d.Failures)
                yield return "     " + f;
        }
    }

    /// <summary>A cluster pass: one block per host, its own pass indented, or why it has none.</summary>
    public static IEnumerable<string> Lines(ClusterPassSummary cluster)
    {
        yield return $"cluster pass started {Time(cluster.Started)}, {Seconds(cluster.Seconds)}: {(cluster.Ok ? "all good" : "with failures")}";
        foreach (var h in cluster.Hosts)
        {
            yield return $"host {h.Host}:";
            if (h.Pass is { } pass)
            {
                foreach (var line in Lines(pass).Skip(1))
                    yield return "  " + line;
            }
            else
            {
                foreach (var line in h.Errors.DefaultIfEmpty("did not answer"))
                    yield return "  " + ErrorReport.Bare(line);
            }
        }
    }

    public static IEnumerable<string> Lines(StatusReport status)
    {
        var daemon = status.Daemon;
        yield return daemon.Serving
            ? $"daemon: serving on {daemon.Address} since {Time(daemon.Since!.Value)} (pid {daemon.Pid})"
            : "daemon: not running";
        yield return daemon.Schedule is null
            ? "schedule: none (passes on demand: btw-backup run)"
            : $"schedule: \"{daemon.Schedule}\", next pass {(daemon.NextRun is { } next ? Time(next) : "never")}{(daemon.Serving ? "" : " if the daemon runs")}";
        if (status.Cluster is { } cluster)
        {
            var up = cluster.Members.Count(m => m.Status == "up" && m.Reachable);
            yield return $"cluster: this node is {cluster.Self}; {cluster.Members.Count} member{(cluster.Members.Count == 1 ? "" : "s")}, {up} up and reachable; leader {cluster.Leader ?? "none"}; director on {cluster.Director ?? "none yet"}";
            var hostWidth = cluster.Members.Select(m => (m.Host ?? "?").Length).DefaultIfEmpty(0).Max();
            foreach (var m in cluster.Members)
                yield return $"  {(m.Host ?? "?").PadRight(hostWidth)}  {m.Address}  {m.Status}{(m.Reachable ? "" : ", unreachable")}";
            yield return $"host {cluster.Self} (this node):";
            foreach (var line in SourceAndDestinationLines(status))
                yield return "  " + line;
            foreach (var h in status.Hosts ?? [])
            {
                if (h.Status is { } other)
                {
                    yield return $"host {h.Host}:";
                    foreach (var line in SourceAndDestinationLines(other))
                        yield return "  " + line;
                }
                else
                {
                    yield return $"host {h.Host}: {h.Problem}";
                }
            }

            yield break;
        }

        foreach (var line in SourceAndDestinationLines(status))
            yield return line;
    }

    /// <summary>A host's sources and destinations, as <c>status</c> shows them.</summary>
    private static IEnumerable<string> SourceAndDestinationLines(StatusReport status)
    {
        yield return "sources:";
        if (status.Sources.IsEmpty)
            yield return "  none configured";
        var width = status.Sources.Select(s => s.Name.Length).DefaultIfEmpty(0).Max();
        foreach (var s in status.Sources)
        {
            var what = s.Last is null ? "never backed up" : RunText(s.Last);
            var extra = new List<string>();
            if (s.Busy)
                extra.Add("backing up now");
            if (s.Restarts > 0)
                extra.Add($"restarted {s.Restarts} time{(s.Restarts == 1 ? "" : "s")}, last failure: {s.LastFailure}");
            var usage = s.Usage is { } u ? $" ({u.Points} point{(u.Points == 1 ? "" : "s")}, {Bytes(u.Bytes)})" : "";
            yield return $"  {s.Name.PadRight(width)}  {s.Type} -> {s.Dst ?? "?"}{usage}: {what}{(extra.Count > 0 ? " [" + string.Join("; ", extra) + "]" : "")}";
        }

        yield return "destinations:";
        if (status.Destinations.IsEmpty)
            yield return "  none configured (backups stay local)";
        foreach (var d in status.Destinations)
        {
            var pending = d.Pending is { } n ? (n == 0 ? "nothing pending" : $"{n} pending: {string.Join(", ", d.PendingPaths)}") : "sync state unavailable";
            var last = d.LastSync is { } at ? $", last sync {Time(at)}" : "";
            var error = d.LastError is null ? "" : $", last error {Time(d.LastErrorAt!.Value)}: {d.LastError}";
            var restarts = d.Restarts > 0 ? $", restarted {d.Restarts} time{(d.Restarts == 1 ? "" : "s")}" : "";
            yield return $"  {d.Name}: {pending}{last}{error}{restarts}";
        }
    }

    public static IEnumerable<string> Lines(VerifyReport verify)
    {
        foreach (var s in verify.Series)
        {
            yield return $"{s.Dst}: {s.Backups} backup{(s.Backups == 1 ? "" : "s")} read, {(s.Problems.IsEmpty ? "all good" : $"{s.Problems.Count} problem(s)")}";
            foreach (var p in s.Problems)
                yield return "  " + p;
        }

        foreach (var d in verify.Destinations)
        {
            yield return $"-> {d.Name}: {d.Matched} file(s) match, {d.Pending} pending, {(d.Problems.IsEmpty ? "all good" : $"{d.Problems.Count} problem(s)")}";
            foreach (var p in d.Problems)
                yield return "  " + p;
            if (d.Problems.Any(p => p.EndsWith(": missing on the server", StringComparison.Ordinal) || p.EndsWith(": the server's copy differs (MD5)", StringComparison.Ordinal)))
                yield return $"  (btw-backup sync --full uploads what {d.Name} lacks or holds wrong)";
        }
    }

    /// <summary>Each series pruned (a failed one is on stderr), its points as <c>list</c> prints them (increments indented by one space) with their verdict.</summary>
    public static IEnumerable<string> Lines(PruneReport prune)
    {
        foreach (var s in prune.Series.Where(s => s.Error is null))
        {
            yield return s.DryRun
                ? $"{s.Dst}: would remove {s.Removed} point(s) and keep {s.Kept} (dry run: nothing changed)"
                : $"{s.Dst}: removed {s.Removed} point(s), kept {s.Kept}";
            foreach (var p in s.Points)
                yield return $"  {(p.FullBackup is { } chain && chain != p.Name ? " " : "")}{p.Name}  " + (p.Kept ? "kept: " + string.Join(", ", p.Reasons) : "removed");
        }
    }

    /// <summary>The original's lines; under each destination's name, indented, when there are several.</summary>
    public static IEnumerable<string> Lines(SyncStateListing listing)
    {
        if (listing.Destinations.Count == 1)
            return PendingLines(listing.Destinations[0]);
        return listing.Destinations.OrderBy(d => d.Name, StringComparer.Ordinal)
            .SelectMany(d => PendingLines(d).Select(l => "  " + l).Prepend(d.Name + ":"));
    }

    private static IEnumerable<string> PendingLines(DestinationPending pending) =>
        pending.MustSync.Select(p => "Must sync: " + Display(p)).Concat(pending.MustPush.Select(p => "Must push: " + Display(p)))
            .Concat(pending.Planned.Select(p => "Must delete (planned): " + p));

    /// <summary>status --history: one line per run, oldest first: when it ended, what, its result and duration, what it stored or uploaded, its error.</summary>
    public static IEnumerable<string> Lines(Monitoring.HistoryReport history)
    {
        if (history.Runs.IsEmpty)
        {
            yield return "no runs kept" + (history.Name is null ? "" : " of " + history.Name) + (history.Since is { } since ? " since " + Time(since) : "");
            yield break;
        }

        var width = history.Runs.Max(r => r.Name.Length);
        foreach (var run in history.Runs)
        {
            var amount = run.Kind == Monitoring.RunRecord.SourceKind
                ? run.Stored is { } stored ? "stored " + Bytes(stored) : ""
                : run.Uploaded is { } uploaded ? "uploaded " + Bytes(uploaded) : "";
            var tail = run.Error is { } error ? error : amount;
            yield return $"{Time(run.Ended)}  {run.Kind,-6}  {run.Name.PadRight(width)}  {run.Result,-9}  {Seconds(run.Seconds),8}  {tail}".TrimEnd();
        }
    }

    /// <summary>A path under root as a user reads it: root itself (the empty path) is ".".</summary>
    private static string Display(string path) => path.Length == 0 ? "." : path;

    private static string RunText(SourceRun run) => run.Result switch
    {
        SourceRun.Failed => $"failed at {Time(run.Finished)} after {Seconds(run.Seconds)}: {run.Error}",
        "unchanged" => $"unchanged at {Time(run.Finished)} ({Seconds(run.Seconds)})",
        "increment" => $"backed up (increment on {run.Backup}) at {Time(run.Finished)} in {Seconds(run.Seconds)}, {Bytes(run.Bytes)}",
        _ => $"backed up ({run.Result}) {run.Backup} at {Time(run.Finished)} in {Seconds(run.Seconds)}, {Bytes(run.Bytes)}",
    };
}
