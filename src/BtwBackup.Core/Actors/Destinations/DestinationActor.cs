using BtwBackup.Sync;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using BtwBackup.Backup;

using BtwBackup.Protocol;
using BtwBackup.Hosting;

namespace BtwBackup.Actors;

/// <summary>
/// Where and how a destination is mirrored, and how its journal is kept. <see cref="MaxDelete"/>:
/// sync.max-delete. Left null, <see cref="SnapshotEvery"/> and <see cref="MaxDelete"/> are the
/// embedded reference's, and <see cref="PersistenceId"/> a single node's (see <see cref="SyncIds"/>).
/// <see cref="Formers"/>: where this state may have been kept before, in that order.
/// </summary>
public sealed record DestinationOptions(string Name, Mirror Mirror, TimeSpan HistoryWindow, int? SnapshotEvery = null, string? LegacyStateFile = null, int? MaxDelete = null)
{
    public string PersistenceId { get; init; } = SyncIds.Of(null, Name);

    public ImmutableList<FormerState> Formers { get; init; } = [];
}

/// <summary>
/// A place a destination's state was kept before: another id in the same journal
/// (<see cref="SqliteFile"/> null: a node that joined a cluster), or the node's own SQLite
/// journal (a node whose journal moved to PostgreSQL).
/// </summary>
public sealed record FormerState(string PersistenceId, string? SqliteFile = null)
{
    public override string ToString() => SqliteFile is null ? PersistenceId : $"{PersistenceId} in {SqliteFile}";
}

/// <summary>
/// One destination's sync state, persisted: the only writer of it. "push P" and "sync P" are
/// persisted before they are acknowledged, "done" only after the store confirmed the transfer,
/// so a crash at any point leaves the work pending, never lost. The state itself is the pure
/// <see cref="SyncState"/>; this actor persists, applies, replies, runs transfers as piped
/// tasks, and keeps the journal small (a snapshot every N events, then deletion of covered
/// events older than the history window).
/// </summary>
public sealed class DestinationActor : ReceivePersistentActor
{
    private readonly DestinationOptions _options;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly SortedList<long, DateTime> _eventTimes = new();
    private readonly CancellationTokenSource _cts = new();
    private SyncState _state = SyncState.Empty;
    private int _sinceSnapshot;
    private Run? _run;
    private bool _importing;

    public DestinationActor(DestinationOptions options)
    {
        _options = options;
        PersistenceId = options.PersistenceId;

        Recover<SnapshotOffer>(o => _state = (SyncState)o.Snapshot);
        Recover<SyncEvent>(e =>
        {
            _state = _state.Apply(e);
            _eventTimes[LastSequenceNr] = e.At;
        });
        Recover<RecoveryCompleted>(_ => ImportFormerState());

        // Until the state it had under a former id is in, nothing else is done.
        Command<FormerRead>(Imported);
        Command<Status.Failure>(_ => _importing, f => throw new InvalidOperationException($"destination {options.Name}: cannot read its former sync state: {f.Cause.Message}", f.Cause));
        Command<object>(_ => _importing, _ => Stash.Stash());
        Command<RecordPending>(Record);
        Command<RunSync>(StartRun);
        Command<GetSyncState>(g => Sender.Tell(new SyncStateReport(g.Correlation, options.Name, _state)));
        Command<ResetSyncState>(Reset);
        Command<PathTransferred>(Transferred);
        Command<PathFailed>(Failed);
        Command<ManifestDone>(Manifested);
        Command<HashesSaved>(saved =>
        {
            if (saved.Problem is { } problem)
                _log.Warning("destination {0}: {1}", _options.Name, problem);
            Next();
        });
        Command<SaveSnapshotSuccess>(DeleteOldEvents);
        Command<SaveSnapshotFailure>(f => _log.Warning("destination {0}: snapshot failed: {1}", options.Name, f.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning("destination {0}: deleting old events failed: {1}", options.Name, f.Cause.Message));
    }

    public override string PersistenceId { get; }

    public static Props Props(DestinationOptions options) => Akka.Actor.Props.Create(() => new DestinationActor(options)).OnThisHost();

    private sealed record FormerRead(FormerState? From, SyncState State) : IMessage;

    private sealed record Run(long Correlation, IActorRef ReplyTo, ImmutableQueue<(string Path, bool Sync)> Todo, TransferReport Report, ImmutableList<string> Failures, bool AllowDeletes)
    {
        public bool ManifestTried { get; init; }

        public bool HashesSaved { get; init; }
    }

    /// <summary>The MD5 cache was written, or not (<paramref name="Problem"/>: the next run reads the files again).</summary>
    private sealed record HashesSaved(string? Problem) : IMessage;

    /// <summary>The manifest of <paramref name="Objects"/> objects was written, or not (<paramref name="Error"/>).</summary>
    private sealed record ManifestDone(int Objects, string? Error) : IMessage;

    private sealed record PathTransferred(string Path, bool Sync, TransferReport Report) : IMessage
    {
        /// <summary>On an encrypted destination: what the transfer stored and deleted, for <see cref="SyncState.Encrypted"/>.</summary>
        public ImmutableList<SyncEvent> Index { get; init; } = [];
    }

    /// <summary><see cref="Refused"/>: the sync deleted nothing on purpose (<see cref="DeletionGuard"/>), rather than failed.</summary>
    private sealed record PathFailed(string Path, bool Sync, string Error, bool Refused = false) : IMessage
    {
        /// <summary>What the transfer did store before it failed (see <see cref="PathTransferred.Index"/>).</summary>
        public ImmutableList<SyncEvent> Index { get; init; } = [];
    }

    private void Record(RecordPending record)
    {
        // A sync of root already pending is not journaled again: the CLI's sync --full journals it
        // before its actors start (SyncJournalFile.RecordSyncOfRoot). Any other request is (the history shows it).
        var events = record.Paths
            .Where(p => !(p.Sync && p.Path.Length == 0 && _state.MustSync.Contains("")))
            .SelectMany(p => _state.Decide(p.Deletion ? new PlanDeletion(p.Path) : p.Sync ? new RequestSync(p.Path) : new RequestPush(p.Path), DateTime.UtcNow).Events)
            .ToList();
        var sender = Sender;
        if (events.Count == 0)
        {
            sender.Tell(new PendingRecorded(record.Correlation, _options.Name));
            return;
        }

        PersistAll(events, e =>
        {
            Applied(e);
            if (ReferenceEquals(e, events[^1]))
                sender.Tell(new PendingRecorded(record.Correlation, _options.Name));
        });
    }

    private void StartRun(RunSync run)
    {
        if (_run is not null)
        {
            Stash.Stash();
            return;
        }

        var todo = _state.MustPush.Select(p => (p, false)).Concat(_state.MustSync.Select(p => (p, true)));
        _run = new Run(run.Correlation, Sender, ImmutableQueue.CreateRange(todo), TransferReport.None, [], run.AllowDeletes);
        Next();
    }

    private void Next()
    {
        var run = _run!;
        if (run.Todo.IsEmpty)
        {
            // An encrypted destination's objects changed: its manifest is written anew before the run ends.
            if (_options.Mirror.Encrypts && !_state.ManifestCurrent && !_state.Encrypted.IsEmpty && !run.ManifestTried)
            {
                _run = run with { ManifestTried = true };
                var objects = _state.Encrypted.Values.ToList();
                _options.Mirror.WriteManifestAsync(objects, _cts.Token).PipeTo(Self,
                    success: () => new ManifestDone(objects.Count, null),
                    failure: e => new ManifestDone(objects.Count, (e is AggregateException { InnerException: { } inner } ? inner : e).Message));
                return;
            }

            // The MD5s read in this run, for the next one: written off this thread, before the reply
            // (a CLI working in-process stops when it has its answer).
            if (_options.Mirror.Hashes is { } hashes && !run.HashesSaved)
            {
                _run = run with { HashesSaved = true };
                Task.Run(hashes.SaveIfChanged).PipeTo(Self, success: problem => new HashesSaved(problem), failure: e => new HashesSaved(e.Message));
                return;
            }

            run.ReplyTo.Tell(new SyncFinished(run.Correlation, _options.Name, run.Report, run.Failures, _state));
            _run = null;
            Stash.UnstashAll();
            return;
        }

        var (path, sync) = run.Todo.Peek();
        var mirror = _options.Mirror;
        var limits = new DeletionLimits(_options.MaxDelete ?? Config.SyncSettings.Default.MaxDelete, run.AllowDeletes) { Planned = _state.Planned.ToHashSet(StringComparer.Ordinal) };
        var index = mirror.Encrypts ? new EncryptedIndex(_state.Encrypted) : null;
        var task = sync ? mirror.SyncAsync(path, limits, _cts.Token, index) : mirror.PushAsync(path, _cts.Token, index);
        task.PipeTo(Self,
            success: r => new PathTransferred(path, sync, r) { Index = IndexEvents(index) },
            failure: e => (e is AggregateException { InnerException: { } inner } ? inner : e) is var cause && cause is DeletionRefusedException
                ? new PathFailed(path, sync, cause.Message, Refused: true) { Index = IndexEvents(index) }
                : new PathFailed(path, sync, cause.Message) { Index = IndexEvents(index) });
    }

    /// <summary>What a transfer stored and deleted on an encrypted destination, as events (none for a plain one).</summary>
    private static ImmutableList<SyncEvent> IndexEvents(EncryptedIndex? index)
    {
        if (index is null)
            return [];
        var now = DateTime.UtcNow;
        var events = ImmutableList.CreateBuilder<SyncEvent>();
        if (!index.Removed.IsEmpty)
            events.Add(new ObjectsRemoved(now, [.. index.Removed.Order(StringComparer.Ordinal)]));
        if (!index.Stored.IsEmpty)
            events.Add(new ObjectsEncrypted(now, [.. index.Stored.OrderBy(o => o.Path, StringComparer.Ordinal)]));
        return events.ToImmutable();
    }

    private void Transferred(PathTransferred done)
    {
        var decision = _state.Decide(done.Sync ? new CompleteSync(done.Path) : new CompletePush(done.Path), DateTime.UtcNow);
        _run = _run! with { Todo = _run.Todo.Dequeue(), Report = _run.Report.Add(done.Report) };
        PersistThenNext(done.Index.AddRange(decision.Events));
    }

    /// <summary>Persists the events (what a transfer stored first, then its completion), then goes on with the run.</summary>
    private void PersistThenNext(ImmutableList<SyncEvent> events)
    {
        if (events.IsEmpty)
        {
            Next();
            return;
        }

        PersistAll(events, e =>
        {
            Applied(e);
            if (ReferenceEquals(e, events[^1]))
                Next();
        });
    }

    private void Failed(PathFailed failed)
    {
        _log.Warning("destination {0}: {1} {2} failed, it stays pending: {3}", _options.Name, failed.Sync ? "sync" : "push", SyncState.Display(failed.Path), failed.Error);
        var line = failed.Refused
            ? $"{_options.Name}: {failed.Error}"
            : $"{(failed.Sync ? "sync" : "push")} of {SyncState.Display(failed.Path)} to {_options.Name} failed: {failed.Error}";
        _run = _run! with { Todo = _run.Todo.Dequeue(), Failures = _run.Failures.Add(line) };
        PersistThenNext(failed.Index);
    }

    /// <summary>A manifest not written is one failure line of the run; the next run writes it (the state still says it is not current).</summary>
    private void Manifested(ManifestDone done)
    {
        if (done.Error is { } error)
        {
            _log.Warning("destination {0}: its manifest was not written, the next sync tries again: {1}", _options.Name, error);
            _run = _run! with { Failures = _run.Failures.Add($"the manifest of {_options.Name} was not written (the next sync tries again): {error}") };
            Next();
            return;
        }

        PersistThenNext([new ManifestWritten(DateTime.UtcNow, done.Objects)]);
    }

    private void Reset(ResetSyncState reset)
    {
        var decision = _state.Decide(new ResetState(), DateTime.UtcNow);
        var sender = Sender;
        if (decision.Refusal is not null)
        {
            sender.Tell(new ResetDone(reset.Correlation, _options.Name, decision.Refusal));
            return;
        }

        PersistAll(decision.Events, e =>
        {
            Applied(e);
            sender.Tell(new ResetDone(reset.Correlation, _options.Name, null));
        });
    }

    private void Applied(SyncEvent e)
    {
        _state = _state.Apply(e);
        _eventTimes[LastSequenceNr] = e.At;
        if (++_sinceSnapshot >= (_options.SnapshotEvery ?? Config.SyncSettings.Default.SnapshotEvery))
        {
            _sinceSnapshot = 0;
            SaveSnapshot(_state);
        }
    }

    /// <summary>Events a snapshot covers and older than the history window are deleted; younger ones stay for --history.</summary>
    private void DeleteOldEvents(SaveSnapshotSuccess saved)
    {
        var cutoff = DateTime.UtcNow - _options.HistoryWindow;
        var old = _eventTimes.Where(kv => kv.Key <= saved.Metadata.SequenceNr && kv.Value < cutoff).Select(kv => kv.Key).DefaultIfEmpty(0).Max();
        if (old <= 0)
            return;
        DeleteMessages(old);
        foreach (var seq in _eventTimes.Keys.Where(k => k <= old).ToList())
            _eventTimes.Remove(seq);
    }

    /// <summary>
    /// A journal with no event of this id, where the destination may have been kept under another
    /// (see <see cref="Formers"/>): the first of those with any event gives its pending paths, as
    /// this journal's first events, so that no pending upload is lost when a node joins a cluster
    /// or its journal moves. The former is left as it was.
    /// </summary>
    private void ImportFormerState()
    {
        if (LastSequenceNr > 0 || _options.Formers.IsEmpty)
        {
            ImportLegacyState();
            return;
        }

        _importing = true;
        var system = Context.System;
        var self = Self;
        ReadFormerAsync(system, _options.Formers).PipeTo(self, failure: e => new Status.Failure(e));
    }

    private static readonly TimeSpan FormerPatience = TimeSpan.FromMinutes(1);

    private static async Task<FormerRead> ReadFormerAsync(ActorSystem system, ImmutableList<FormerState> formers)
    {
        foreach (var former in formers)
        {
            if (former.SqliteFile is { } file && !File.Exists(file))
                continue;
            var read = former.SqliteFile is { } local
                ? await SyncStateReading.ReadSqliteAsync(local, former.PersistenceId, FormerPatience)
                : await SyncStateReading.ReadAsync(system, former.PersistenceId, FormerPatience);
            if (read.LastSequenceNr > 0)
                return new FormerRead(former, read.State);
        }

        return new FormerRead(null, SyncState.Empty);
    }

    private void Imported(FormerRead read)
    {
        var now = DateTime.UtcNow;
        var state = read.State;
        var events = state.MustPush.Select(p => (SyncEvent)new PushRequested(now, p))
            .Concat(state.MustSync.Select(p => new SyncRequested(now, p)))
            .Concat(state.Planned.Select(p => new DeletionPlanned(now, p)))
            .ToList();
        if (events.Count == 0)
        {
            if (read.From is not null)
                _log.Info("destination {0}: its former state ({1}) had nothing pending", _options.Name, read.From);
            Resume();
            return;
        }

        PersistAll(events, e =>
        {
            Applied(e);
            if (!ReferenceEquals(e, events[^1]))
                return;
            _log.Info("destination {0}: {1} pending paths taken over from its former state ({2})", _options.Name, events.Count, read.From);
            Resume();
        });

        void Resume()
        {
            _importing = false;
            Stash.UnstashAll();
            ImportLegacyState();
        }
    }

    /// <summary>
    /// The original kept its state in CONFIG_DIR/sync_state, one line per change. Its lines
    /// become this journal's first events (pending paths stay pending, the history is kept),
    /// once: the file is set aside after, and never imported into a journal that has events.
    /// </summary>
    private void ImportLegacyState()
    {
        var file = _options.LegacyStateFile;
        if (file is null || !File.Exists(file))
            return;
        var aside = file + ".imported";
        if (LastSequenceNr > 0)
        {
            _log.Warning("destination {0}: {1} found but the journal already has events: set aside, not imported", _options.Name, file);
            File.Move(file, aside, overwrite: true);
            return;
        }

        var events = File.ReadLines(file).Select(SyncHistoryFormat.Parse).OfType<SyncEvent>().ToList();
        if (events.Count == 0)
        {
            File.Move(file, aside, overwrite: true);
            return;
        }

        PersistAll(events, e =>
        {
            Applied(e);
            if (ReferenceEquals(e, events[^1]))
            {
                File.Move(file, aside, overwrite: true);
                _log.Info("destination {0}: imported {1} lines of {2}, set aside as {3}", _options.Name, events.Count, file, aside);
            }
        });
    }

    protected override void PostRestart(Exception reason)
    {
        Monitoring.Telemetry.Restarted("destination");
        base.PostRestart(reason);
    }

    protected override void PostStop()
    {
        _cts.Cancel();
        _cts.Dispose();
        base.PostStop();
    }
}
