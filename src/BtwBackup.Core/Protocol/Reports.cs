using System.Collections.Immutable;
using System.Text.Json.Serialization;
using BtwBackup.Restore;

namespace BtwBackup.Protocol;

/// <summary>
/// What a command found, as data: the actors reply it inside a <see cref="CommandReply"/> and
/// the CLI renders it (lines for a person, JSON for a program). The names are wire names,
/// stable whatever the classes are called.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "report")]
[JsonDerivedType(typeof(PassSummary), "pass")]
[JsonDerivedType(typeof(StatusReport), "status")]
[JsonDerivedType(typeof(VerifyReport), "verify")]
[JsonDerivedType(typeof(PruneReport), "prune")]
[JsonDerivedType(typeof(SyncStateListing), "sync-state")]
[JsonDerivedType(typeof(ClusterPassSummary), "cluster-pass")]
[JsonDerivedType(typeof(Monitoring.HistoryReport), "history")]
public abstract record Report;

/// <summary>What <c>prune</c> did (or, dry, would do) to each series; a series that could not be pruned has its error and no points.</summary>
public sealed record PruneReport(ImmutableList<PrunedSeries> Series) : Report;

public sealed record PrunedSeries(string Dst, bool DryRun, string? Error, ImmutableList<PrunedPoint> Points)
{
    [JsonPropertyOrder(1)]
    public int Removed => Points.Count(p => !p.Kept);

    [JsonPropertyOrder(2)]
    public int Kept => Points.Count(p => p.Kept);

    [JsonPropertyOrder(3)]
    public ImmutableList<PrunedPoint> Points { get; init; } = Points;
}

/// <summary>One point of a pruned series; <see cref="FullBackup"/> is the folder it lives in (null: a tar archive).</summary>
public sealed record PrunedPoint(string Name, string? FullBackup, bool Kept, ImmutableList<string> Reasons);

/// <summary><c>sync-state --list</c>: what each destination still has to do.</summary>
public sealed record SyncStateListing(ImmutableList<DestinationPending> Destinations) : Report;

/// <summary>A destination's pending work: folders to sync, files to push, planned deletions (paths under root; "" is root).</summary>
public sealed record DestinationPending(string Name, ImmutableList<string> MustSync, ImmutableList<string> MustPush, ImmutableList<string> Planned);

/// <summary><c>run</c> in a cluster: each host's own pass, or why it has none.</summary>
public sealed record ClusterPassSummary(DateTime Started, double Seconds, ImmutableList<HostResult> Hosts) : Report
{
    public bool Ok => Hosts.All(h => h.Pass is { Ok: true } && h.Errors.IsEmpty);
}

/// <summary>One host's part of a cluster pass: its summary (null: it did not answer) and its error lines.</summary>
public sealed record HostResult(string Host, PassSummary? Pass, ImmutableList<string> Errors);
