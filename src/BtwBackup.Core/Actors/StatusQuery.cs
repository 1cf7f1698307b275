using System.Collections.Immutable;
using Akka.Actor;
using Akka.Pattern;
using BtwBackup.Protocol;
using BtwBackup.Series;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>
/// <c>status</c>: completes the Orchestrator's report with each destination's pending paths
/// and restart count, asked of the destinations themselves. A destination that does not answer
/// within a few seconds (its journal down, its supervisor backing off) is shown as unavailable
/// rather than holding the reply. Each source's series is measured meanwhile (points, bytes);
/// a measure that takes longer than that is left out.
/// </summary>
public sealed class StatusQuery : ReceiveActor
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(3);

    private readonly Dictionary<string, SyncState> _states = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, int> _restarts = new();
    private readonly StatusReport _report;
    private readonly IReadOnlyList<(string Name, IActorRef Ref)> _destinations;
    private readonly ImmutableSortedDictionary<string, DestinationRecord> _records;
    private readonly bool _json;
    private readonly IActorRef _replyTo;
    private ImmutableDictionary<string, SeriesUsage>? _usage;

    public StatusQuery(StatusReport report, Task<ImmutableDictionary<string, SeriesUsage>> usage, IReadOnlyList<(string Name, IActorRef Ref)> destinations,
        ImmutableSortedDictionary<string, DestinationRecord> records, bool json, IActorRef replyTo)
    {
        _report = report;
        _destinations = destinations;
        _records = records;
        _json = json;
        _replyTo = replyTo;

        Receive<SyncStateReport>(r =>
        {
            _states[r.Destination] = r.State;
            ReplyWhenComplete();
        });
        Receive<BackoffSupervisor.RestartCount>(c =>
        {
            _restarts[Sender] = c.Count;
            ReplyWhenComplete();
        });
        Receive<Measured>(m =>
        {
            _usage = m.Usage;
            ReplyWhenComplete();
        });
        Receive<ReceiveTimeout>(_ => Reply());
        usage.PipeTo(Self, success: u => new Measured(u), failure: _ => new Measured(ImmutableDictionary<string, SeriesUsage>.Empty));

        foreach (var (_, d) in destinations)
        {
            d.Tell(new GetSyncState(0));
            d.Tell(BackoffSupervisor.GetRestartCount.Instance);
        }

        Context.SetReceiveTimeout(Patience);
    }

    public static Props Props(StatusReport report, Task<ImmutableDictionary<string, SeriesUsage>> usage, IReadOnlyList<(string Name, IActorRef Ref)> destinations,
        ImmutableSortedDictionary<string, DestinationRecord> records, bool json, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new StatusQuery(report, usage, destinations, records, json, replyTo));

    private sealed record Measured(ImmutableDictionary<string, SeriesUsage> Usage);

    private void ReplyWhenComplete()
    {
        if (_usage is not null && _states.Count == _destinations.Count && _restarts.Count == _destinations.Count)
            Reply();
    }

    private void Reply()
    {
        var destinations = _destinations.Select(d =>
        {
            var record = _records.GetValueOrDefault(d.Name);
            var state = _states.GetValueOrDefault(d.Name);
            ImmutableList<string> pending = state is null ? [] : [.. state.MustPush.Select(p => "push " + SyncState.Display(p)), .. state.MustSync.Select(p => "sync " + SyncState.Display(p))];
            return new DestinationState(d.Name, state is null ? null : pending.Count, pending,
                record?.LastSync, record?.LastError, record?.LastErrorAt, _restarts.GetValueOrDefault(d.Ref));
        }).ToImmutableList();
        var usage = _usage ?? ImmutableDictionary<string, SeriesUsage>.Empty;
        var sources = _report.Sources.Select(s => s.Dst is { } dst && usage.TryGetValue(dst, out var u) ? s with { Usage = u } : s).ToImmutableList();
        var report = _report with { Sources = sources, Destinations = destinations };
        _replyTo.Tell(CommandReply.Ok(_json ? [SummaryFormat.ToJson(report)] : [.. SummaryFormat.Lines(report)]));
        Context.Stop(Self);
    }
}
