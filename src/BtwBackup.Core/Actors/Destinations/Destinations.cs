using BtwBackup.Sync;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using BtwBackup.Backup;

using BtwBackup.Protocol;
using BtwBackup.Hosting;

namespace BtwBackup.Actors;

/// <summary>What to ask of every destination.</summary>
public abstract record DestinationAsk;

/// <summary>Persist these paths as pending work; each answers <see cref="PendingRecorded"/>.</summary>
public sealed record AskRecord(ImmutableList<PendingPath> Paths) : DestinationAsk;

/// <summary>Each answers its <see cref="SyncStateReport"/>.</summary>
public sealed record AskState : DestinationAsk;

/// <summary>Record <paramref name="Changed"/>, then push and sync everything pending; each answers <see cref="SyncFinished"/>.</summary>
public sealed record AskSync(ImmutableList<PendingPath> Changed, bool AllowDeletes) : DestinationAsk;

/// <summary>sync-state --reset; each answers <see cref="ResetDone"/>.</summary>
public sealed record AskReset : DestinationAsk;

/// <summary>
/// To <see cref="Destinations"/>: ask every destination the same thing. The answer,
/// <see cref="AllAnswered"/> with the same <paramref name="Id"/>, comes once each destination
/// has replied, stopped, or let <paramref name="Deadline"/> pass (null: no deadline, for a sync
/// whose transfers may take hours; a destination that stops is still reported at once).
/// </summary>
public sealed record AskAll(long Id, DestinationAsk Ask, TimeSpan? Deadline) : IMessage;

/// <summary>
/// Each destination's reply (<see cref="PendingRecorded"/>, <see cref="SyncStateReport"/>,
/// <see cref="SyncFinished"/> or <see cref="ResetDone"/>), and for each that gave none, why:
/// <see cref="Silent"/>. <see cref="Restarts"/>: how often each was restarted after it stopped.
/// </summary>
public sealed record AllAnswered(
    long Id,
    ImmutableList<IDestinationReply> Replies,
    ImmutableSortedDictionary<string, string> Silent,
    ImmutableSortedDictionary<string, int> Restarts) : IMessage
{
    public IEnumerable<T> Of<T>() where T : IDestinationReply => Replies.OfType<T>();

    /// <summary>One line per destination that did not answer: "NAME: WHY".</summary>
    public IEnumerable<string> SilentLines => Silent.Select(kv => $"{kv.Key}: {kv.Value}");
}

/// <summary>
/// The destinations' parent (/user/orchestrator/destinations), and the one way to reach them.
/// Each <see cref="DestinationActor"/> is its child, watched: one that stops (its journal
/// failed, or a bug) is reported to every request waiting on it, answers "restarting" to the
/// requests that come meanwhile, and is started again after a backoff (1 s, doubling, at most
/// 30 s) on this actor's timers. Every request carries its own correlation ids, so a reply that
/// comes after its deadline is recognised and dropped, never counted for another request.
/// Where the journal is shared, a destination is started only once this process holds its
/// writer lock (<see cref="IWriterLocks"/>), checked every few seconds: a lock lost stops it until
/// it holds it again, and one that another process holds is named to every request meanwhile.
/// </summary>
public sealed class Destinations : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    public const string Name = "destinations";

    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Func<DestinationOptions, Props> _childProps;
    private readonly IWriterLocks? _locks;
    private readonly CancellationTokenSource _cts = new();
    private readonly SortedDictionary<string, Slot> _slots = new(StringComparer.Ordinal);
    private readonly Dictionary<long, Gathering> _gatherings = new();
    private readonly Dictionary<long, (long Gathering, string Destination)> _correlations = new();
    private long _next;

    public Destinations(IReadOnlyList<DestinationOptions> options, Func<DestinationOptions, Props>? childProps = null, IWriterLocks? locks = null)
    {
        _childProps = childProps ?? DestinationActor.Props;
        _locks = locks;
        foreach (var o in options)
            _slots[o.Name] = new Slot(o);

        // A request waits for the locks being taken: it then gets either the destination's answer or who holds its lock.
        Receive<AskAll>(_ => _slots.Values.Any(s => s.Locking), _ => Stash.Stash());
        Receive<AskAll>(Ask);
        Receive<LockTaken>(Taken);
        Receive<LockRefused>(Refused);
        Receive<CheckLocks>(_ => CheckAll());
        Receive<LockChecked>(Checked);
        Receive<IDestinationReply>(Replied);
        Receive<DeadlinePassed>(Expired);
        Receive<Restart>(r => Start(_slots[r.Destination]));
        Receive<Terminated>(Stopped);

        foreach (var slot in _slots.Values)
            Start(slot);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public IStash Stash { get; set; } = null!;

    public static Props Props(IReadOnlyList<DestinationOptions> options, Func<DestinationOptions, Props>? childProps = null, IWriterLocks? locks = null) =>
        Akka.Actor.Props.Create(() => new Destinations(options, childProps, locks)).OnThisHost();

    /// <summary>How often a held writer lock is checked (a lost session is found within this).</summary>
    public static readonly TimeSpan LockCheckEvery = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan RecordDeadline = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Write-ahead, from a task: every destination persists <paramref name="paths"/> as pending
    /// work before root changes; one that does not answer within two minutes, or stops, fails
    /// the caller with <paramref name="whenLate"/> and, per destination, why.
    /// </summary>
    public static async Task RecordAsync(IActorRef destinations, ImmutableList<PendingPath> paths, string whenLate, CancellationToken ct)
    {
        var answer = await destinations.Ask<AllAnswered>(new AskAll(0, new AskRecord(paths), RecordDeadline), RecordDeadline + TimeSpan.FromSeconds(30), ct);
        if (!answer.Silent.IsEmpty)
            throw new BackupException(whenLate + ": " + string.Join("; ", answer.SilentLines));
    }

    /// <summary>A child that throws is stopped, never restarted in place: a restart would lose its run silently; <see cref="Stopped"/> reports it.</summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(e =>
        {
            Context.GetLogger().Error(e, "a destination stopped on an unexpected error");
            return Directive.Stop;
        });

    private sealed class Slot(DestinationOptions options)
    {
        public DestinationOptions Options { get; } = options;

        public IActorRef? Ref { get; set; }

        public int Restarts { get; set; }

        public int ConsecutiveStops { get; set; }

        public string? Down { get; set; }

        public IWriterLock? Lock { get; set; }

        /// <summary>Its writer lock is being taken.</summary>
        public bool Locking { get; set; }

        /// <summary>Its writer lock is being checked.</summary>
        public bool Checking { get; set; }
    }

    private sealed class Gathering(long id, IActorRef replyTo, DestinationAsk ask)
    {
        public long Id { get; } = id;

        public IActorRef ReplyTo { get; } = replyTo;

        public DestinationAsk Ask { get; } = ask;

        public Dictionary<string, long> Waiting { get; } = new(StringComparer.Ordinal);

        public List<IDestinationReply> Replies { get; } = [];

        public SortedDictionary<string, string> Silent { get; } = new(StringComparer.Ordinal);
    }

    private sealed record DeadlinePassed(long Gathering, TimeSpan After) : IMessage;

    private sealed record Restart(string Destination) : IMessage;

    private sealed record LockTaken(string Destination, IWriterLock Lock) : INoSerializationVerificationNeeded;

    private sealed record LockRefused(string Destination, string Why) : IMessage;

    private sealed record CheckLocks : IMessage;

    private sealed record LockChecked(string Destination, IWriterLock Lock, string? Error) : INoSerializationVerificationNeeded;

    private void Start(Slot slot)
    {
        if (slot.Locking || slot.Ref is not null)
            return;
        if (_locks is null || slot.Lock is not null)
        {
            StartChild(slot);
            return;
        }

        slot.Locking = true;
        slot.Down = "waiting for its writer lock";
        var name = slot.Options.Name;
        var (locks, id, ct) = (_locks, slot.Options.PersistenceId, _cts.Token);
        Task.Run(() => locks.AcquireAsync(id, ct), ct).PipeTo(Self,
            success: l => new LockTaken(name, l),
            failure: e => new LockRefused(name, ErrorReport.Unwrap(e).Message));
    }

    private void Taken(LockTaken taken)
    {
        var slot = _slots[taken.Destination];
        slot.Locking = false;
        slot.Lock = taken.Lock;
        StartChild(slot);
        if (!Timers.IsTimerActive("check-locks"))
            Timers.StartPeriodicTimer("check-locks", new CheckLocks(), LockCheckEvery);
        Stash.UnstashAll();
    }

    private void Refused(LockRefused refused)
    {
        var slot = _slots[refused.Destination];
        slot.Locking = false;
        slot.ConsecutiveStops++;
        slot.Down = refused.Why;
        var backoff = Backoff(slot);
        _log.Warning("destination {0}: not started: {1}; trying again in {2:0} s", refused.Destination, refused.Why, backoff.TotalSeconds);
        Timers.StartSingleTimer("restart-" + refused.Destination, new Restart(refused.Destination), backoff);
        Stash.UnstashAll();
    }

    private void CheckAll()
    {
        foreach (var slot in _slots.Values.Where(s => s is { Lock: not null, Checking: false }))
        {
            slot.Checking = true;
            var (name, held) = (slot.Options.Name, slot.Lock!);
            var ct = _cts.Token;
            Task.Run(() => held.CheckAsync(ct), ct).ContinueWith(t => new LockChecked(name, held, t.IsCompletedSuccessfully ? null : ErrorReport.Unwrap(t.Exception!).Message),
                TaskScheduler.Default).PipeTo(Self);
        }
    }

    /// <summary>A lock lost (its database session ended): the destination stops before another process can take the lock and write, and starts again once it holds it.</summary>
    private void Checked(LockChecked check)
    {
        var slot = _slots[check.Destination];
        slot.Checking = false;
        if (check.Error is null || !ReferenceEquals(slot.Lock, check.Lock))
            return;
        _log.Error("destination {0}: lost its writer lock ({1}): stopped until it holds it again", check.Destination, check.Error);
        slot.Lock = null;
        _ = check.Lock.DisposeAsync().AsTask().ContinueWith(_ => { }, TaskScheduler.Default);
        if (slot.Ref is { } child)
            Context.Stop(child);
    }

    private static TimeSpan Backoff(Slot slot) => TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, FirstBackoff.Ticks << Math.Min(slot.ConsecutiveStops - 1, 5)));

    protected override void PostStop()
    {
        _cts.Cancel();
        foreach (var slot in _slots.Values)
            _ = slot.Lock?.DisposeAsync().AsTask().ContinueWith(_ => { }, TaskScheduler.Default);
        _cts.Dispose();
        base.PostStop();
    }

    private void StartChild(Slot slot)
    {
        var name = "destination-" + Uri.EscapeDataString(slot.Options.Name);
        // A stopped child's name is free once its Terminated has come, which is when this runs.
        slot.Ref = Context.ActorOf(_childProps(slot.Options), name);
        slot.Down = null;
        Context.Watch(slot.Ref);
    }

    private void Ask(AskAll ask)
    {
        var key = ++_next;
        var gathering = new Gathering(ask.Id, Sender, ask.Ask);
        _gatherings[key] = gathering;
        foreach (var slot in _slots.Values)
        {
            if (slot.Ref is not { } destination)
            {
                gathering.Silent[slot.Options.Name] = slot.Down ?? "not started";
                continue;
            }

            var correlation = ++_next;
            _correlations[correlation] = (key, slot.Options.Name);
            gathering.Waiting[slot.Options.Name] = correlation;
            switch (ask.Ask)
            {
                case AskRecord record:
                    destination.Tell(new RecordPending(correlation, record.Paths));
                    break;
                case AskState:
                    destination.Tell(new GetSyncState(correlation));
                    break;
                case AskSync sync:
                    // In this order in its mailbox: the run starts once the paths are persisted.
                    if (!sync.Changed.IsEmpty)
                        destination.Tell(new RecordPending(correlation, sync.Changed));
                    destination.Tell(new RunSync(correlation, sync.AllowDeletes));
                    break;
                case AskReset:
                    destination.Tell(new ResetSyncState(correlation));
                    break;
            }
        }

        if (ask.Deadline is { } deadline && gathering.Waiting.Count > 0)
            Timers.StartSingleTimer(key, new DeadlinePassed(key, deadline), deadline);
        CompleteIfDone(key, gathering);
    }

    private static bool IsFinal(DestinationAsk ask, IDestinationReply reply) => ask switch
    {
        AskRecord => reply is PendingRecorded,
        AskState => reply is SyncStateReport,
        AskSync => reply is SyncFinished,
        AskReset => reply is ResetDone,
        _ => false,
    };

    private void Replied(IDestinationReply reply)
    {
        if (!_correlations.TryGetValue(reply.Correlation, out var target) || !_gatherings.TryGetValue(target.Gathering, out var gathering))
        {
            _log.Debug("destination {0}: a reply ({1}) came after its request was answered: dropped", reply.Destination, reply.GetType().Name);
            return;
        }

        if (!IsFinal(gathering.Ask, reply))
            return;
        _correlations.Remove(reply.Correlation);
        gathering.Waiting.Remove(target.Destination);
        gathering.Replies.Add(reply);
        CompleteIfDone(target.Gathering, gathering);
    }

    private void Expired(DeadlinePassed passed)
    {
        if (!_gatherings.TryGetValue(passed.Gathering, out var gathering))
            return;
        foreach (var (name, correlation) in gathering.Waiting)
        {
            _log.Warning("destination {0}: did not answer within {1:0} s", name, passed.After.TotalSeconds);
            gathering.Silent[name] = $"did not answer within {passed.After.TotalSeconds:0} s (its sync journal may be failing: see the log)";
            _correlations.Remove(correlation);
        }

        gathering.Waiting.Clear();
        CompleteIfDone(passed.Gathering, gathering);
    }

    private void Stopped(Terminated terminated)
    {
        if (_slots.Values.FirstOrDefault(s => terminated.ActorRef.Equals(s.Ref)) is not { } slot)
            return;
        var name = slot.Options.Name;
        slot.Ref = null;
        slot.Restarts++;
        var lostLock = slot.Lock is null && _locks is not null;
        // Restarted only under a lock taken anew: the one it held may be the reason it stopped.
        if (slot.Lock is { } held && !slot.Checking)
        {
            slot.Lock = null;
            _ = held.DisposeAsync().AsTask().ContinueWith(_ => { }, TaskScheduler.Default);
        }

        slot.ConsecutiveStops++;
        var backoff = Backoff(slot);
        slot.Down = lostLock
            ? $"stopped at {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC: it lost its writer lock (see the log), restarting"
            : $"stopped at {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC (most often its sync journal failed: see the log), restarting";
        _log.Warning("destination {0}: stopped; restarting in {1:0} s", name, backoff.TotalSeconds);
        foreach (var (key, gathering) in _gatherings.ToList())
        {
            if (!gathering.Waiting.Remove(name, out var correlation))
                continue;
            _correlations.Remove(correlation);
            gathering.Silent[name] = "stopped before it answered (most often its sync journal failed: see the log); what it had not done stays pending";
            CompleteIfDone(key, gathering);
        }

        Timers.StartSingleTimer("restart-" + name, new Restart(name), backoff);
    }

    private void CompleteIfDone(long key, Gathering gathering)
    {
        if (gathering.Waiting.Count > 0)
            return;
        Timers.Cancel(key);
        _gatherings.Remove(key);
        // A destination that answers is sound again: its next stop starts the backoff afresh.
        foreach (var reply in gathering.Replies)
        {
            if (_slots.TryGetValue(reply.Destination, out var slot))
                slot.ConsecutiveStops = 0;
        }
        gathering.ReplyTo.Tell(new AllAnswered(
            gathering.Id,
            [.. gathering.Replies.OrderBy(r => r.Destination, StringComparer.Ordinal)],
            gathering.Silent.ToImmutableSortedDictionary(StringComparer.Ordinal),
            _slots.ToImmutableSortedDictionary(kv => kv.Key, kv => kv.Value.Restarts, StringComparer.Ordinal)));
    }
}
