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
public sealed record PassSummary(DateTime Started, double Seconds, ImmutableList<PassSource> Sources, ImmutableList<DestinationRun> Destinations) : Report
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
    public Backup.SeriesUsage? Usage { get; init; }
}

/// <summary>A destination as <c>status</c> shows it; <c>Pending</c> null when its state could not be read.</summary>
public sealed record DestinationState(string Name, int? Pending, ImmutableList<string> PendingPaths, DateTime? LastSync, string? LastError, DateTime? LastErrorAt, int Restarts);

public sealed record DaemonState(bool Serving, DateTime? Since, int? Pid, string? Address, string? Schedule, DateTime? NextRun);

public sealed record StatusReport(DaemonState Daemon, ImmutableList<SourceState> Sources, ImmutableList<DestinationState> Destinations) : Report
{
    /// <summary>The cluster as this node sees it; absent for a single node.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ClusterView? Cluster { get; init; }

    /// <summary>The other hosts of the cluster, each with its own status or why there is none; absent for a single node.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImmutableList<HostStatus>? Hosts { get; init; }
}

/// <summary>Another host's status in a cluster's <c>status</c>: its report (its sources and destinations), or why there is none (unreachable, did not answer).</summary>
public sealed record HostStatus(string Host, StatusReport? Status, string? Problem);

/// <summary>
/// The cluster's members as this node (<paramref name="Self"/>, a host name) sees them, the
/// leader's host, and the host of the director (<see cref="Director"/>: the oldest member up,
/// where the cluster singleton runs; null while no member is up).
/// </summary>
public sealed record ClusterView(string Self, string? Leader, ImmutableList<ClusterMember> Members)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Director { get; init; }
}

/// <summary>A member: its host (null: not a btw-backup node), its address, its status (up, joining, leaving...) and whether this node reaches it.</summary>
public sealed record ClusterMember(string? Host, string Address, string Status, bool Reachable);

/// <summary>The JSON of the reports and status.json (snake_case, UTC times), and the few formats the log shares with the CLI.</summary>
public static class SummaryFormat
{
    /// <summary>A pass's sources in one line of the log: "name result (error)", comma-separated.</summary>
    public static string SourceResults(PassSummary pass) =>
        string.Join(", ", pass.Sources.Select(s => $"{s.Name} {s.Run.Result}{(s.Run.Error is null ? "" : " (" + s.Run.Error + ")")}"));

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static string ToJson<T>(T value) => JsonSerializer.Serialize(value, Json);

    public static string Time(DateTime utc) => utc.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static string Seconds(double s) => s.ToString("0.0", CultureInfo.InvariantCulture) + " s";

    public static string Bytes(long n) => n switch
    {
        < 1024 => $"{n} B",
        < 1024 * 1024 => (n / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        < 1024L * 1024 * 1024 => (n / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        _ => (n / 1073741824.0).ToString("0.00", CultureInfo.InvariantCulture) + " GiB",
    };
}
