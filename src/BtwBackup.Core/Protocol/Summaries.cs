using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace BtwBackup.Protocol;

/// <summary>How one backup of a source ended: full, increment, unchanged or failed.</summary>
public sealed record SourceRun(string Result, string? Backup, string? Error, DateTime Finished, double Seconds, long Bytes)
{
    public const string Failed = "failed";

    [JsonIgnore]
    public bool Ok => Result != Failed;
}

/// <summary>What one destination did at the end of a pass.</summary>
public sealed record DestinationRun(string Name, int Uploaded, long BytesUploaded, int Deleted, int Pending, ImmutableList<string> Failures)
{
    [JsonIgnore]
    public bool Ok => Failures.IsEmpty;
}

/// <summary>The result of <c>run</c>: one line per source, one per series pruned (retention.after-pass), one per destination.</summary>
public sealed record PassSummary(DateTime Started, double Seconds, ImmutableList<PassSource> Sources, ImmutableList<DestinationRun> Destinations)
{
    public ImmutableList<PassPrune> Pruned { get; init; } = [];

    public bool Ok => Sources.All(s => s.Run.Ok) && Pruned.All(p => p.Error is null) && Destinations.All(d => d.Ok);
}

/// <summary>What the prune after a pass did to one series, or why it could not.</summary>
public sealed record PassPrune(string Dst, int Removed, int Kept, string? Error);

public sealed record PassSource(string Name, string Type, string Dst, SourceRun Run);

/// <summary>A source as <c>status</c> shows it, with what its series holds locally (null: no series yet, or not measured in time).</summary>
public sealed record SourceState(string Name, string Type, string? Dst, SourceRun? Last, bool Busy, int Restarts, string? LastFailure, DateTime? NextRun)
{
    public Series.SeriesUsage? Usage { get; init; }
}

/// <summary>A destination as <c>status</c> shows it; <c>Pending</c> null when its state could not be read.</summary>
public sealed record DestinationState(string Name, int? Pending, ImmutableList<string> PendingPaths, DateTime? LastSync, string? LastError, DateTime? LastErrorAt, int Restarts);

public sealed record DaemonState(bool Serving, DateTime? Since, int? Pid, string? Address, string? Schedule, DateTime? NextRun);

public sealed record StatusReport(DaemonState Daemon, ImmutableList<SourceState> Sources, ImmutableList<DestinationState> Destinations);

/// <summary>Renders summaries for a person (aligned lines) or a program (JSON, snake_case, UTC times).</summary>
public static class SummaryFormat
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static string ToJson<T>(T value) => JsonSerializer.Serialize(value, Json);

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

    public static IEnumerable<string> Lines(StatusReport status)
    {
        var daemon = status.Daemon;
        yield return daemon.Serving
            ? $"daemon: serving on {daemon.Address} since {Time(daemon.Since!.Value)} (pid {daemon.Pid})"
            : "daemon: not running";
        yield return daemon.Schedule is null
            ? "schedule: none (passes on demand: btw-backup run)"
            : $"schedule: \"{daemon.Schedule}\", next pass {(daemon.NextRun is { } next ? Time(next) : "never")}{(daemon.Serving ? "" : " if the daemon runs")}";
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

    private static string RunText(SourceRun run) => run.Result switch
    {
        SourceRun.Failed => $"failed at {Time(run.Finished)} after {Seconds(run.Seconds)}: {run.Error}",
        "unchanged" => $"unchanged at {Time(run.Finished)} ({Seconds(run.Seconds)})",
        "increment" => $"backed up (increment on {run.Backup}) at {Time(run.Finished)} in {Seconds(run.Seconds)}, {Bytes(run.Bytes)}",
        _ => $"backed up ({run.Result}) {run.Backup} at {Time(run.Finished)} in {Seconds(run.Seconds)}, {Bytes(run.Bytes)}",
    };

    public static string Time(DateTime utc) => utc.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string Seconds(double s) => s.ToString("0.0", CultureInfo.InvariantCulture) + " s";

    public static string Bytes(long n) => n switch
    {
        < 1024 => $"{n} B",
        < 1024 * 1024 => (n / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        < 1024L * 1024 * 1024 => (n / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        _ => (n / 1073741824.0).ToString("0.00", CultureInfo.InvariantCulture) + " GiB",
    };
}
