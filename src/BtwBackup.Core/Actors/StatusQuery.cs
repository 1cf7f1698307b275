using System.Collections.Immutable;
using Akka.Actor;
using BtwBackup.Protocol;
using BtwBackup.Series;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>
/// <c>status</c>: completes the Orchestrator's report with each destination's pending paths
/// and restart count, asked of the <see cref="Destinations"/>. A destination that does not
/// answer within a few seconds (its journal down, restarting) is shown as unavailable rather
/// than holding the reply. Each source's series is measured meanwhile (points, bytes); a
/// measure that takes longer than that is left out.
/// </summary>
public sealed class StatusQuery : ReceiveActor
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(3);

    private readonly StatusReport _report;
    private readonly IReadOnlyList<string> _names;
    private readonly ImmutableSortedDictionary<string, DestinationRecord> _records;
    private readonly bool _json;
    private readonly IActorRef _replyTo;
    private ImmutableDictionary<string, SeriesUsage>? _usage;
    private AllAnswered? _answered;

    public StatusQuery(StatusReport report, Task<ImmutableDictionary<string, SeriesUsage>> usage, IActorRef? destinations, IReadOnlyList<string> names,
        ImmutableSortedDictionary<string, DestinationRecord> records, bool json, IActorRef replyTo)
    {
        _report = report;
        _names = names;
        _records = records;
        _json = json;
        _replyTo = replyTo;

        Receive<AllAnswered>(a =>
        {
            _answered = a;
            ReplyWhenComplete();
        });
        Receive<Measured>(m =>
        {
            _usage = m.Usage;
            ReplyWhenComplete();
        });
        // The destinations have their own deadline; this one bounds the measure, and is the way out if all else fails.
        Receive<ReceiveTimeout>(_ => Reply());
        usage.PipeTo(Self, success: u => new Measured(u), failure: _ => new Measured(ImmutableDictionary<string, SeriesUsage>.Empty));
        if (destinations is null)
            _answered = new AllAnswered(0, [], ImmutableSortedDictionary<string, string>.Empty, ImmutableSortedDictionary<string, int>.Empty);
        else
            destinations.Tell(new AskAll(0, new AskState(), Patience));
        Context.SetReceiveTimeout(Patience + TimeSpan.FromSeconds(1));
    }

    public static Props Props(StatusReport report, Task<ImmutableDictionary<string, SeriesUsage>> usage, IActorRef? destinations, IReadOnlyList<string> names,
        ImmutableSortedDictionary<string, DestinationRecord> records, bool json, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new StatusQuery(report, usage, destinations, names, records, json, replyTo));

    private sealed record Measured(ImmutableDictionary<string, SeriesUsage> Usage) : IMessage;

    private void ReplyWhenComplete()
    {
        if (_usage is not null && _answered is not null)
            Reply();
    }

    private void Reply()
    {
        var states = (_answered?.Of<SyncStateReport>() ?? []).ToDictionary(r => r.Destination, r => r.State, StringComparer.Ordinal);
        var destinations = _names.Select(name =>
        {
            var record = _records.GetValueOrDefault(name);
            var state = states.GetValueOrDefault(name);
            ImmutableList<string> pending = state is null ? [] : [.. state.MustPush.Select(p => "push " + SyncState.Display(p)), .. state.MustSync.Select(p => "sync " + SyncState.Display(p))];
            return new DestinationState(name, state is null ? null : pending.Count, pending,
                record?.LastSync, record?.LastError, record?.LastErrorAt, _answered?.Restarts.GetValueOrDefault(name) ?? 0);
        }).ToImmutableList();
        var usage = _usage ?? ImmutableDictionary<string, SeriesUsage>.Empty;
        var sources = _report.Sources.Select(s => s.Dst is { } dst && usage.TryGetValue(dst, out var u) ? s with { Usage = u } : s).ToImmutableList();
        var report = _report with { Sources = sources, Destinations = destinations };
        _replyTo.Tell(CommandReply.Ok(_json ? [SummaryFormat.ToJson(report)] : [.. SummaryFormat.Lines(report)]));
        Context.Stop(Self);
    }
}
