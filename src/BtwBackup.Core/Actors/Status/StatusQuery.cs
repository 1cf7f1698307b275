using System.Collections.Immutable;
using Akka.Actor;
using BtwBackup.Protocol;
using BtwBackup.Backup;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>A configured source as <c>status</c> lists it.</summary>
public sealed record ListedSource(string Name, string Type, string Dst);

/// <summary>What the Orchestrator knows for <c>status</c>: the daemon, the configured sources, the busy ones, root and the destinations' names.</summary>
public sealed record StatusRequest(DaemonState Daemon, ImmutableList<ListedSource> Sources, ImmutableHashSet<string> Busy, string RootPath,
    ImmutableList<string> Destinations)
{
    public ClusterView? Cluster { get; init; }

    /// <summary>The request for <paramref name="settings"/>' sources and destinations.</summary>
    public static StatusRequest Of(Config.GeneralSettings settings, DaemonState daemon, ImmutableHashSet<string> busy) =>
        new(daemon, [.. settings.Sources.Select(s => new ListedSource(s.Name, PassJobs.TypeName(s), s.Dst))], busy, settings.RootPath,
            [.. settings.Destinations.Select(x => x.Name)]);
}

/// <summary>
/// <c>status</c>: the last results from the <see cref="StatusKeeper"/>, each destination's
/// pending paths and restart count from the <see cref="Destinations"/>, and what each source's
/// series holds locally (points, bytes), measured meanwhile. A destination that does not answer
/// within a few seconds (its journal down, restarting) is shown as unavailable rather than
/// holding the reply; a measure that takes longer than that is left out. Replies a
/// <see cref="StatusReport"/>.
/// </summary>
public sealed class StatusQuery : ReceiveActor
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(3);

    private readonly StatusRequest _request;
    private readonly IActorRef _replyTo;
    private PersistedStatus? _status;
    private ImmutableList<SourceState> _sources = [];
    private ImmutableDictionary<string, SeriesUsage>? _usage;
    private AllAnswered? _answered;

    public StatusQuery(StatusRequest request, IActorRef keeper, IActorRef? destinations, IActorRef replyTo)
    {
        _request = request;
        _replyTo = replyTo;

        Receive<StatusSnapshot>(s => s.Unreadable is not null, s =>
        {
            _replyTo.Tell(Unreadable(s.Unreadable!));
            Context.Stop(Self);
        });
        Receive<StatusSnapshot>(s =>
        {
            _status = s.Status;
            _sources = Sources(_request, s.Status);
            var root = _request.RootPath;
            Task.Run(() => Measure(root, _sources))
                .PipeTo(Self, success: u => new Measured(u), failure: _ => new Measured(ImmutableDictionary<string, SeriesUsage>.Empty));
        });
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
        keeper.Tell(new GetStatus());
        if (destinations is null)
            _answered = new AllAnswered(0, [], ImmutableSortedDictionary<string, string>.Empty, ImmutableSortedDictionary<string, int>.Empty);
        else
            destinations.Tell(new AskAll(0, new AskState(), Patience));
        Context.SetReceiveTimeout(Patience + TimeSpan.FromSeconds(1));
    }

    public static Props Props(StatusRequest request, IActorRef keeper, IActorRef? destinations, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new StatusQuery(request, keeper, destinations, replyTo));

    private sealed record Measured(ImmutableDictionary<string, SeriesUsage> Usage) : IMessage;

    /// <summary>The configured sources, then those only fs or db made (a backup into a configured source's series is that source's: not shown twice).</summary>
    public static ImmutableList<SourceState> Sources(StatusRequest request, PersistedStatus status)
    {
        var next = request.Daemon.NextRun;
        var adHoc = status.Sources
            .Where(kv => request.Sources.All(c => c.Name != kv.Key && c.Dst != kv.Value.Dst))
            .OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (Name: kv.Key, kv.Value.Type, kv.Value.Dst));
        return request.Sources.Select(c => (c.Name, c.Type, Dst: (string?)c.Dst)).Concat(adHoc).Select(s =>
        {
            var record = status.Sources.GetValueOrDefault(s.Name);
            return new SourceState(s.Name, s.Type, s.Dst, record?.Last, request.Busy.Contains(s.Name), record?.Restarts ?? 0, record?.LastFailure, next);
        }).ToImmutableList();
    }

    private void ReplyWhenComplete()
    {
        if (_status is not null && _usage is not null && _answered is not null)
            Reply();
    }

    private void Reply()
    {
        var states = (_answered?.Of<SyncStateReport>() ?? []).ToDictionary(r => r.Destination, r => r.State, StringComparer.Ordinal);
        var restarts = _answered?.Restarts ?? ImmutableSortedDictionary<string, int>.Empty;
        _replyTo.Tell(CommandReply.Of(Report(_request, _sources, _status ?? PersistedStatus.Empty, states, restarts, _usage ?? ImmutableDictionary<string, SeriesUsage>.Empty), ok: true));
        Context.Stop(Self);
    }

    /// <summary>The answer when status.json cannot be read: the results are unknown, never shown as none.</summary>
    public static CommandReply Unreadable(string why) =>
        CommandReply.Failed([ErrorReport.Prefix + why + ": the last results of the sources are unknown (fix the file, or remove it to start afresh)"]);

    /// <summary>What each source's series holds locally (points, bytes), by series.</summary>
    public static ImmutableDictionary<string, SeriesUsage> Measure(string root, IEnumerable<SourceState> sources) =>
        sources.Select(x => x.Dst).OfType<string>().Distinct()
            .Select(dst => (dst, Usage: SeriesUsage.Measure(Path.Combine(root, dst))))
            .Where(u => u.Usage is not null)
            .ToImmutableDictionary(u => u.dst, u => u.Usage!, StringComparer.Ordinal);

    /// <summary>
    /// The report: <paramref name="sources"/> (see <see cref="Sources"/>) with what their series
    /// hold, each destination's last sync from <paramref name="status"/> and its pending paths
    /// from <paramref name="states"/> (a destination missing there did not answer: unknown).
    /// </summary>
    public static StatusReport Report(StatusRequest request, ImmutableList<SourceState> sources, PersistedStatus status,
        IReadOnlyDictionary<string, SyncState> states, IReadOnlyDictionary<string, int> restarts, IReadOnlyDictionary<string, SeriesUsage> usage)
    {
        var destinations = request.Destinations.Select(name =>
        {
            var record = status.Destinations.GetValueOrDefault(name);
            var state = states.GetValueOrDefault(name);
            ImmutableList<string> pending = state is null ? [] : [.. state.MustPush.Select(p => "push " + SyncState.Display(p)), .. state.MustSync.Select(p => "sync " + SyncState.Display(p))];
            return new DestinationState(name, state is null ? null : pending.Count, pending,
                record?.LastSync, record?.LastError, record?.LastErrorAt, restarts.GetValueOrDefault(name));
        }).ToImmutableList();
        var measured = sources.Select(s => s.Dst is { } dst && usage.TryGetValue(dst, out var u) ? s with { Usage = u } : s).ToImmutableList();
        return new StatusReport(request.Daemon, measured, destinations) { Cluster = request.Cluster };
    }
}
