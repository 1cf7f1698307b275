using System.Collections.Immutable;
using Akka.Actor;
using Akka.Actor.Internal;
using Akka.Event;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.Protocol;
using BtwBackup.Restore;
using BtwBackup.ObjectStore;
using BtwBackup.Sync;
using BtwBackup.Hosting;

namespace BtwBackup.Actors;

/// <summary>What the Orchestrator needs from the outside world, built once at the edge.</summary>
public sealed record OrchestratorServices(
    GeneralSettings Settings,
    IBackupProcedure Backups,
    SeriesLister Lister)
{
    /// <summary>Opens a destination's object store; null when the settings have no destination.</summary>
    public Func<DestinationSettings, IObjectStore>? Stores { get; init; }

    /// <summary>The MD5s of root's files as last read, shared by every destination; null: every sync reads every file.</summary>
    public Md5Cache? Hashes { get; init; }

    /// <summary>Each destination's listing taken ahead, by name (<c>sync --full</c> in a CLI without a daemon, see <see cref="Mirror.Ahead"/>); null: none.</summary>
    public IReadOnlyDictionary<string, Task<List<RemoteObject>>>? Ahead { get; init; }

    /// <summary>Each destination's uploads started ahead, by name (<c>sync --full</c> in a CLI without a daemon, see <see cref="Mirror.Uploads"/>); null: none.</summary>
    public IReadOnlyDictionary<string, UploadsAhead>? Uploads { get; init; }

    /// <summary>Where the journal is shared (PostgreSQL), the locks that keep each sync state to one writer; null otherwise.</summary>
    public IWriterLocks? WriterLocks { get; init; }

    /// <summary>Reads a destination's journal for <c>sync-state --history</c>.</summary>
    public Func<ActorSystem, string, DateTime?, Task<ImmutableList<string>>>? History { get; init; }

    /// <summary>Set when the Orchestrator lives in a daemon: it then runs passes on the schedule.</summary>
    public DaemonInfo? Daemon { get; init; }

    /// <summary>Where the last results are kept between processes; null: in memory only (tests).</summary>
    public StatusFile? StatusFile { get; init; }

    /// <summary>Sends the monitoring's pings (monitoring block); null: none are sent (tests of other things).</summary>
    public Func<MonitoringSettings, Monitoring.IPingSender>? Pings { get; init; }

    /// <summary>Where every run is kept for <c>status --history</c>, the page and the metrics; null: none (tests).</summary>
    public Monitoring.RunHistory? Runs { get; init; }

    /// <summary>restore; null where the tools are not wired (tests of other commands).</summary>
    public Restorer? Restorer { get; init; }

    /// <summary>verify; null where the tools are not wired.</summary>
    public Verifier? Verifier { get; init; }

    /// <summary>The cluster's director (a singleton proxy) when this node is in a cluster: <c>run</c> from a client goes to it.</summary>
    public IActorRef? Director { get; init; }

    /// <summary>The first delay before a source that just failed gets its next job; doubled per further failure.</summary>
    public TimeSpan SourceBackoff { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>Who serves, where and since when.</summary>
public sealed record DaemonInfo(DateTime Since, int Pid, string Address);

/// <summary>
/// The daemon re-read its configuration (SIGHUP) and found it valid: sources, defaults,
/// retention, the schedule and run.parallelism apply from the next job; what the running
/// daemon is built on (root-path, destinations, sync, the daemon's address and TLS, the log)
/// keeps its running value until a restart, and the log says which changed.
/// </summary>
public sealed record Reconfigure(GeneralSettings Settings) : IMessage;

/// <summary>Stop taking work, cancel the backups in flight, and answer <see cref="Drained"/> once none is left.</summary>
public sealed record Drain : IMessage;

public sealed record Drained : IMessage;

/// <summary>
/// The root of the tree (/user/orchestrator). Turns CLI commands into work: backups go to
/// <see cref="Sources"/> (one SourceActor per source, with its backoff), the destinations are
/// reached through <see cref="Actors.Destinations"/>; passes run as a child
/// <see cref="Pass"/>; syncs as a child <see cref="SyncRound"/>; listings as piped tasks. Keeps
/// each source's and destination's last result for <c>status</c>. Replies with a
/// <see cref="CommandReply"/> the CLI prints as it is.
/// </summary>
public sealed partial class Orchestrator : ReceiveActor, IWithTimers
{
    public const string Name = "orchestrator";

    /// <summary>The Orchestrator of the cluster node at <paramref name="node"/>.</summary>
    public static ActorSelection At(IActorContext context, Address node) => context.ActorSelection(new RootActorPath(node) / "user" / Name);

    private OrchestratorServices _services;
    private readonly DateTime _upSince = DateTime.UtcNow;
    /// <summary>The schedule's time of the last scheduled pass the director asked of this host (see <see cref="Director"/>).</summary>
    private DateTime? _lastScheduledFor;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<long, JobOwner> _jobs = new();
    private IActorRef? _destinations;
    private bool _destinationsStarted;
    private readonly List<IActorRef> _drainWaiters = [];
    private readonly Func<string, Props> _sourceProps;
    private IActorRef _sources = ActorRefs.Nobody;
    private readonly CancellationTokenSource _stopping = new();
    private IActorRef _statusKeeper = ActorRefs.Nobody;
    private IActorRef _notifier = ActorRefs.Nobody;
    private int _notifiers;

    /// <summary>Replies that leave once status.json has their sync round in it (a CLI that exits on one leaves a true status).</summary>
    private readonly Dictionary<long, (IActorRef To, object Message)> _awaitingSave = new();
    private long _nextAck;

    private static readonly TimeSpan DirectorPatience = TimeSpan.FromSeconds(15);

    private sealed record ClusterPassUntaken(long Id) : IMessage;

    /// <summary>The requesters of the cluster passes this node asked the director for.</summary>
    private readonly Dictionary<long, IActorRef> _clusterPasses = new();

    /// <summary>The director that took each of those passes, watched until it answers.</summary>
    private readonly Dictionary<long, IActorRef> _clusterPassDirectors = new();
    private IActorRef? _pass;
    private IActorRef? _passReplyTo;
    private DateTime? _nextRun;
    private bool _draining;
    private long _nextJob;

    /// <summary>A prune is removing points: no backup starts until it ends (rdiff-backup never works twice on one repository).</summary>
    private bool _pruning;

    /// <summary>A scheduled pass came during a prune: it starts when the prune ends.</summary>
    private bool _passDeferred;

    public Orchestrator(OrchestratorServices services, Func<string, Props>? sourceProps = null)
    {
        _services = services;
        _sourceProps = sourceProps ?? (name => SourceActor.Props(name, services.Backups));

        Receive<ExecuteCommand>(_ => _draining, _ => Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + "the daemon is shutting down: try again when it is back"])));
        Receive<ExecuteCommand>(e => e.Command is InitFileTree, e => Guarded(() => InitFileTree((InitFileTree)e.Command)));
        Receive<ExecuteCommand>(e => e.Command is BackupFileTree, e => Guarded(() => BackupFileTree((BackupFileTree)e.Command, e.ProgressTo)));
        Receive<ExecuteCommand>(e => e.Command is BackupDatabase, e => Guarded(() => BackupDatabase((BackupDatabase)e.Command, e.ProgressTo)));
        Receive<ExecuteCommand>(e => e.Command is ListBackups, e => Guarded(() => ListBackups((ListBackups)e.Command)));
        Receive<ExecuteCommand>(e => e.Command is SyncNow, e => Guarded(() => SyncNow((SyncNow)e.Command)));
        Receive<ExecuteCommand>(e => e.Command is InspectSyncState, e => Guarded(() => InspectSyncState((InspectSyncState)e.Command)));
        Receive<ExecuteCommand>(e => e.Command is RunPass && _services.Director is not null, e =>
        {
            var id = ++_nextAck;
            _clusterPasses[id] = Sender;
            _services.Director!.Tell(new ClusterPass(id, ((RunPass)e.Command).Sources, Self));
            // The director may be unreachable (no cluster formed yet, its node just died): a pass it never took is one line, not a wait.
            Timers.StartSingleTimer("cluster-pass-" + id, new ClusterPassUntaken(id), DirectorPatience);
        });
        Receive<ClusterPassStarted>(s =>
        {
            Timers.Cancel("cluster-pass-" + s.Id);
            // A director whose node dies mid-pass never answers: its requester hears that instead of waiting for ever.
            if (_clusterPasses.ContainsKey(s.Id))
            {
                _clusterPassDirectors[s.Id] = Sender;
                Context.Watch(Sender);
            }
        });
        Receive<Terminated>(t => _clusterPassDirectors.ContainsValue(t.ActorRef), t =>
        {
            foreach (var id in _clusterPassDirectors.Where(kv => kv.Value.Equals(t.ActorRef)).Select(kv => kv.Key).ToList())
            {
                _clusterPassDirectors.Remove(id);
                if (_clusterPasses.Remove(id, out var requester))
                    requester.Tell(CommandReply.Failed([ErrorReport.Prefix + "the cluster's director stopped during the pass (its node left or died): "
                        + "each host's own pass went on; status on each host shows how it ended"]));
            }
        });
        Receive<ClusterPassUntaken>(u =>
        {
            if (_clusterPasses.Remove(u.Id, out var requester))
                requester.Tell(CommandReply.Failed([ErrorReport.Prefix + $"the cluster's director did not take the pass within {DirectorPatience.TotalSeconds:0} s: "
                    + "it may still run once the director is reachable (status shows the cluster's members and each source's last result; a node that has just started may still be joining)"]));
        });
        Receive<ClusterPassDone>(d =>
        {
            // The director is watched only while a pass of this node is with it: its later end (its node leaves) is no news here.
            if (_clusterPassDirectors.Remove(d.Id, out var director) && !_clusterPassDirectors.ContainsValue(director))
                Context.Unwatch(director);
            if (_clusterPasses.Remove(d.Id, out var requester))
                requester.Tell(d.Reply);
        });
        Receive<ExecuteCommand>(e => e.Command is RunPass, e => Guarded(() => RunPass((RunPass)e.Command, Sender, e.ProgressTo)));
        Receive<HostPass>(h => Guarded(() =>
        {
            _lastScheduledFor = h.ScheduledFor ?? _lastScheduledFor;
            RunPass(new RunPass(h.Sources, Json: false), Sender, null);
        }));
        Receive<AskLastScheduled>(_ => Sender.Tell(new LastScheduled(_upSince, _lastScheduledFor)));
        Receive<ExecuteCommand>(e => e.Command is ShowStatus { History: true }, e => Guarded(() => ShowHistory((ShowStatus)e.Command)));
        Receive<ExecuteCommand>(e => e.Command is ShowStatus, e => Guarded(() => ShowStatus()));
        Receive<HostStatusQuery>(_ => Guarded(() => ShowStatus(ownOnly: true)));
        Receive<ExecuteCommand>(e => e.Command is RestoreBackup, e => Guarded(() => Restore((RestoreBackup)e.Command, e.ProgressTo)));
        Receive<ExecuteCommand>(e => e.Command is VerifyBackups, e => Guarded(() => Verify((VerifyBackups)e.Command, e.ProgressTo)));
        Receive<ExecuteCommand>(e => e.Command is PruneSeries, e => Guarded(() => Prune((PruneSeries)e.Command)));
        Receive<Pruned>(Finish);
        Receive<PruneRefused>(Finish);
        Receive<PruneAfterPass>(PruneForPass);
        Receive<PrunedForPass>(Finish);
        Receive<ExecuteCommand>(e => Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + "unknown command " + e.Command.GetType().Name])));
        Receive<Resolved>(r => Start(r.Job, new JobOwner(r.ReplyTo, IsPass: false), r.ProgressTo));
        Receive<Refused>(r => r.ReplyTo.Tell(CommandReply.Failed(r.Lines)));
        Receive<PassResolved>(StartPass);
        Receive<RunSourceJob>(r => Start(r.Job, new JobOwner(Sender, IsPass: true), r.ProgressTo, r.Source));
        Receive<SyncAfterPass>(s => Context.ActorOf(SyncRound.Props(SyncTarget, s.Changed, new ToPass(Sender))));
        Receive<PassFinished>(PassDone);
        Receive<PassBroken>(b => PassEnded(b.Lines));
        Receive<Terminated>(t => t.ActorRef.Equals(_pass), _ => PassEnded([ErrorReport.Prefix + "the pass stopped on an unexpected error (the log has the details)"]));
        // A watched actor whose end was already handled (a pass that replied, then stopped): unhandled, it would stop the Orchestrator.
        Receive<Terminated>(_ => { });
        Receive<SyncRoundResult>(Synced);
        Receive<StatusSaved>(Saved);
        Receive<BackupCompleted>(Completed);
        Receive<BackupFailed>(Failed);
        Receive<ScheduledPass>(Scheduled);
        Receive<Reconfigure>(Reconfigured);
        Receive<Drain>(_ => StartDraining());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private void StartDraining()
    {
        _draining = true;
        Timers.CancelAll();
        _drainWaiters.Add(Sender);
        foreach (var child in Context.GetChildren())
            child.Tell(new CancelBackup());
        CheckDrained();
    }

    /// <summary>
    /// A command's handler that throws (a configuration file that became wrong since the start,
    /// a bug) would leave its requester waiting for ever: the requester hears why instead, and
    /// the Orchestrator goes on (a restart would lose the jobs it keeps).
    /// </summary>
    private void Guarded(Action handle)
    {
        try
        {
            handle();
        }
        catch (Exception e)
        {
            if (!ErrorReport.IsExpected(e))
                _log.Error(e, "a command failed on an unexpected error");
            Sender.Tell(CommandReply.Failed(ErrorReport.Lines(e)));
        }
    }

    private void Reconfigured(Reconfigure reconfigure)
    {
        var (applied, needRestart) = Reload.Apply(_services.Settings, reconfigure.Settings);
        var monitoringChanged = applied.Monitoring != _services.Settings.Monitoring;
        _services = _services with { Settings = applied };
        if (monitoringChanged)
        {
            // The old notifier finishes its pings in flight as it stops; the new one has the new checks.
            Context.Stop(_notifier);
            StartNotifier();
        }

        _log.Info("configuration reloaded from {0}: {1} source(s) ({2}); schedule: {3}", reconfigure.Settings.LoadedFrom, applied.Sources.Count,
            string.Join(", ", applied.Sources.Select(s => s.Name)), applied.Daemon.ScheduleText ?? "none");
        if (needRestart.Count > 0)
            _log.Warning("configuration: {0} changed; the daemon keeps the running values until it is restarted", string.Join("; ", needRestart));
        Timers.Cancel("schedule");
        ScheduleNext();
        // In a cluster the schedule is the director's: if it runs on this node, it takes the new one.
        if (applied.Cluster is not null)
            DirectorSingleton.OnThisNode(Context).Tell(new ScheduleChanged(applied.Daemon));
    }

    public static Props Props(OrchestratorServices services, Func<string, Props>? sourceProps = null) =>
        Akka.Actor.Props.Create(() => new Orchestrator(services, sourceProps)).OnThisHost();

    /// <summary>Who waits for a job: a command's requester (then a sync round follows) or a pass.</summary>
    private sealed record JobOwner(IActorRef ReplyTo, bool IsPass)
    {
        public string Source { get; init; } = "";
    }

    private sealed record ReplyWith(IActorRef ReplyTo, CommandReply Reply) : RoundTag;

    private sealed record ToPass(IActorRef Pass) : RoundTag;

    private sealed record ScheduledPass(DateTime At) : IMessage;

    private sealed record PassResolved(ImmutableList<PassItem> Items, ImmutableList<string> Prune, IActorRef ReplyTo, IActorRef? ProgressTo) : IMessage;

    protected override void PreStart()
    {
        _statusKeeper = Context.ActorOf(StatusKeeper.Props(_services.StatusFile, _services.Runs), StatusKeeper.Name);
        StartNotifier();
        _sources = Context.ActorOf(Sources.Props(_sourceProps, _services.SourceBackoff), Sources.Name);
        ScheduleNext();
        // The daemon opens its journal at once (a broken one shows in its log at start); a CLI
        // command only when it needs it: list, fs-init and restore never pay for it.
        if (_services.Daemon is not null && DestinationsRef is { } destinations)
            Context.ActorOf(Monitoring.PendingProbe.Props(destinations), "pending-probe");
    }

    /// <summary>The <see cref="Actors.Destinations"/> actor, started on first use; null when no destination is configured.</summary>
    private IActorRef? DestinationsRef
    {
        get
        {
            if (!_destinationsStarted)
            {
                _destinationsStarted = true;
                _destinations = StartDestinations();
            }

            return _destinations;
        }
    }

    /// <summary>Where a sync round sends: nowhere while the daemon drains.</summary>
    private IActorRef? SyncTarget => _draining ? null : DestinationsRef;

    private IActorRef? StartDestinations()
    {
        var settings = _services.Settings;
        if (_services.Stores is not { } stores || settings.Destinations.IsEmpty)
            return null;
        var legacy = Path.Combine(settings.ConfigDir, SyncState.LegacyFileName);
        var hashes = _services.Hashes;
        if (hashes?.Problem is { } problem)
            _log.Warning("sync: {0}", problem);
        var options = settings.Destinations.Select((d, index) => new DestinationOptions(
            d.Name, new Mirror(stores(d), settings.RootPath, d.Prefix, settings.Sync.Parallelism, d.Recipients)
            {
                Hashes = hashes,
                Ahead = _services.Ahead?.GetValueOrDefault(d.Name),
                Uploads = _services.Uploads?.GetValueOrDefault(d.Name),
                Warn = warning => _log.Warning("sync to {0}: {1}", d.Name, warning),
            }, settings.Sync.HistoryWindow, settings.Sync.SnapshotEvery,
            LegacyStateFile: index == 0 ? legacy : null, MaxDelete: settings.Sync.MaxDelete)
        {
            PersistenceId = SyncIdOf(d.Name),
            Formers = Formers(settings, d.Name),
        }).ToList();
        return Context.ActorOf(Actors.Destinations.Props(options, locks: _services.WriterLocks), Actors.Destinations.Name);
    }

    /// <summary>
    /// Where a destination's state was kept before: a cluster node's, under the id it had as a
    /// single node; a journal on PostgreSQL's, in the node's own SQLite journal (both ids).
    /// </summary>
    private static ImmutableList<FormerState> Formers(GeneralSettings settings, string destination)
    {
        var (single, current) = (SyncIds.Of(null, destination), SyncIds.Of(settings.Cluster?.Host, destination));
        var formers = ImmutableList.CreateBuilder<FormerState>();
        if (current != single)
            formers.Add(new FormerState(single));
        if (settings.Sync.PostgresJournal is not null)
        {
            var local = Path.Combine(settings.ConfigDir, PersistenceConfig.FileName);
            formers.AddRange(new[] { current, single }.Distinct().Select(id => new FormerState(id, local)));
        }

        return formers.ToImmutable();
    }

    private void SyncNow(SyncNow sync)
    {
        if (DestinationsRef is not { } destinations)
        {
            Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + "no destination is configured: add one to destinations in btw-backup.conf"]));
            return;
        }

        ImmutableList<PendingPath> changed = sync.Full ? [new PendingPath("", Sync: true)] : [];
        Context.ActorOf(SyncRound.Props(destinations, changed, new ReplyWith(Sender, CommandReply.Ok()), sync.AllowDeletes, sync.Full));
    }

    private void InspectSyncState(InspectSyncState inspect)
    {
        var settings = _services.Settings;
        if (inspect.Host is { } host && host != settings.Cluster?.Host)
        {
            InspectHost(inspect, host);
            return;
        }

        if (inspect.Action != SyncStateAction.History)
        {
            Context.ActorOf(SyncStateQuery.Props(DestinationsRef, inspect.Action == SyncStateAction.Reset, Sender));
            return;
        }

        if (_services.History is not { } history || DestinationsRef is null)
        {
            Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + "no destination is configured: there is no sync state (destinations in btw-backup.conf)"]));
            return;
        }

        var system = Context.System;
        var ids = settings.Destinations.Select(d => (d.Name, SyncIdOf(d.Name))).ToImmutableList();
        ReadHistoryAsync(system, history, ids, inspect.Since)
            .PipeTo(Sender, success: lines => new CommandReply(ExitCode.Ok, lines, []), failure: e => CommandReply.Failed(ErrorReport.Lines(e)));
    }

    /// <summary>
    /// <c>sync-state --list|--history --host H</c> for another host: its states read from the
    /// shared journal (never written: that host's node is their one writer), whether that host is
    /// up or not, so that what a dead host still had to upload can be seen from any node.
    /// </summary>
    private void InspectHost(InspectSyncState inspect, string host)
    {
        if (HostRefusal(host) is { } refusal)
        {
            Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + $"sync-state --host {host}: " + refusal]));
            return;
        }

        HostStateAsync(Context.System, _services.History!, host, inspect)
            .PipeTo(Sender, failure: e => CommandReply.Failed(ErrorReport.Lines(e)));
    }

    /// <summary>Why this node cannot read host <paramref name="host"/>'s sync state, or null.</summary>
    private string? HostRefusal(string host)
    {
        var settings = _services.Settings;
        if (!ClusterSettings.IsHostName(host))
            return "not a host name";
        if (settings.Cluster is null)
            return "this node is not in a cluster (no cluster block in btw-backup.conf): it has no other host";
        if (settings.Sync.PostgresJournal is null || _services.History is null || settings.Destinations.IsEmpty)
            return "this node's sync journal is its own: only a journal the nodes share (sync.journal on PostgreSQL, the same on every node, and a destination on this one) holds another host's state; ask on that host";
        return null;
    }

    /// <summary>The persistence id of this node's state of <paramref name="destination"/> (see <see cref="SyncIds"/>).</summary>
    private string SyncIdOf(string destination) => SyncIds.Of(_services.Settings.Cluster?.Host, destination);

    private static readonly TimeSpan ReadPatience = TimeSpan.FromSeconds(30);

    private static async Task<CommandReply> HostStateAsync(ActorSystem system, Func<ActorSystem, string, DateTime?, Task<ImmutableList<string>>> history, string host, InspectSyncState inspect)
    {
        var ids = await SyncHistory.HostIdsAsync(system, host);
        if (ids.IsEmpty)
            return CommandReply.Failed([ErrorReport.Prefix + $"the shared journal holds no sync state of host {host} (a host of this cluster with destinations writes one at its first start)"]);
        if (inspect.Action == SyncStateAction.History)
            return new CommandReply(ExitCode.Ok, await ReadHistoryAsync(system, history, ids, inspect.Since), []);
        var pending = ImmutableList.CreateBuilder<DestinationPending>();
        foreach (var (destination, id) in ids)
            pending.Add((await SyncStateReading.ReadAsync(system, id, ReadPatience)).State.Pending(destination));
        return CommandReply.Of(new SyncStateListing(pending.ToImmutable()), true, []);
    }

    /// <summary>The history of each (destination, persistence id); headed by the destination's name when there are several.</summary>
    private static async Task<ImmutableList<string>> ReadHistoryAsync(ActorSystem system, Func<ActorSystem, string, DateTime?, Task<ImmutableList<string>>> history,
        ImmutableList<(string Destination, string Id)> ids, DateTime? since)
    {
        var read = new List<(string, ImmutableList<string>)>();
        foreach (var (name, id) in ids)
            read.Add((name, await history(system, id, since)));
        return SyncHistory.Combine(read);
    }

    protected override SupervisorStrategy SupervisorStrategy() => new ChildStrategy();

    /// <summary>
    /// A child that throws (a pass, a sync round, a query: their failures are bugs, a source's
    /// are handled by <see cref="Sources"/>) is stopped, never restarted: a restart would redo its
    /// work. The log gets the details; its requester "the log has the details".
    /// </summary>
    private sealed class ChildStrategy() : OneForOneStrategy(-1, -1, _ => Directive.Stop, loggingEnabled: false)
    {
        public override void ProcessFailure(IActorContext context, bool restart, IActorRef child, Exception cause, ChildRestartStats stats, IReadOnlyCollection<ChildRestartStats> children)
        {
            context.System.Log.Error(cause, "{0} stopped on an unexpected error", child.Path.Name);
            base.ProcessFailure(context, restart, child, cause, stats, children);
        }
    }

    // Reading and writing the configuration directory happens in a task piped back, never in a handler.
    private void InitFileTree(InitFileTree init)
    {
        var settings = _services.Settings;
        var log = _log;
        Task.Run(() => WorkingFolders.Create(settings.ConfigDir, init.Source, init.Name, init.Type, settings.Defaults))
            .PipeTo(Sender,
                success: path =>
                {
                    log.Info("fs-init: created {0} for {1}", path, init.Source);
                    return CommandReply.Ok(ErrorReport.Prefix + "created " + path);
                },
                failure: e => CommandReply.Failed(ErrorReport.Lines(e)));
    }

    private void BackupFileTree(BackupFileTree backup, IActorRef? progressTo)
    {
        var settings = _services.Settings;
        Resolve(() => PassJobs.For(settings, backup), progressTo);
    }

    private void BackupDatabase(BackupDatabase backup, IActorRef? progressTo)
    {
        var settings = _services.Settings;
        Resolve(() => new DatabaseJob(settings.Database(backup.Database), new SeriesLocation(settings.RootPath, SeriesPath.Check(backup.Dst)), backup.Owner), progressTo);
    }

    /// <summary>Builds a job from its settings files in a task; the job comes back as <see cref="Resolved"/>, a refusal as <see cref="Refused"/>.</summary>
    private void Resolve(Func<BackupJob> build, IActorRef? progressTo)
    {
        var replyTo = Sender;
        Task.Run(build).PipeTo(Self,
            success: job => new Resolved(job, replyTo, progressTo),
            failure: e => new Refused(replyTo, ErrorReport.Lines(e)));
    }

    private sealed record Resolved(BackupJob Job, IActorRef ReplyTo, IActorRef? ProgressTo) : IMessage;

    private sealed record Refused(IActorRef ReplyTo, IReadOnlyList<string> Lines) : IMessage;

    private void Start(BackupJob job, JobOwner owner, IActorRef? progressTo, string? sourceName = null)
    {
        if (_draining)
        {
            // A pass still sends the sources it had queued: none starts once the daemon drains.
            Interrupted(new JobOwner(owner.ReplyTo, owner.IsPass) { Source = sourceName ?? NameFor(job) }, 0);
            return;
        }

        if (_pruning && !owner.IsPass)
        {
            owner.ReplyTo.Tell(CommandReply.Failed([ErrorReport.Prefix + "a prune is running: back up when it has ended; nothing was backed up"]));
            return;
        }

        var name = sourceName ?? NameFor(job);
        var jobId = ++_nextJob;
        _jobs[jobId] = owner with { Source = name };
        Observe(new SourceStarted(name, TypeOf(job), job.Series.Dst));

        // The increment waits, in the backup's task, until every destination has persisted the intent, and gives up if one is down.
        _sources.Tell(new RunJob(name, new StartBackup(jobId, job, progressTo, DestinationsRef)));
    }

    /// <summary>Tells a job's owner it was interrupted (the daemon drains), as a source would.</summary>
    private void Interrupted(JobOwner owner, long jobId)
    {
        var failed = Sources.Interrupted(jobId, owner.Source);
        if (owner.IsPass)
            owner.ReplyTo.Tell(failed);
        else
            owner.ReplyTo.Tell(CommandReply.Failed(failed.ErrorLines));
    }

    /// <summary>A configured source's name when the job writes into its series (so <c>fs</c> and <c>run</c> share one actor and one status), else the job's own.</summary>
    private string NameFor(BackupJob job) =>
        _services.Settings.Sources.FirstOrDefault(s => s.Dst == job.Series.Dst)?.Name ?? job.SourceName;

    private static string TypeOf(BackupJob job) => job switch
    {
        FileTreeJob f => SourceTypes.Name(f.Folder.Type),
        DatabaseJob { Target.Database: null } => "pg-globals",
        _ => "pg-dump",
    };

    private void ListBackups(ListBackups list)
    {
        // The policy may come from db/DB.conf, found in the series itself: read in the task, never in the handler.
        var (settings, lister) = (_services.Settings, _services.Lister);
        Task.Run(() => lister.AnswerAsync(settings, list, CancellationToken.None)).PipeTo(Sender);
    }

    /// <summary>DSTs from a command (the daemon's clients too) pass <see cref="SeriesPath.Check"/>, else the requester is told why.</summary>
    private bool CheckDsts(IEnumerable<string> dsts)
    {
        try
        {
            foreach (var dst in dsts)
                SeriesPath.Check(dst);
            return true;
        }
        catch (ConfigException e)
        {
            Sender.Tell(CommandReply.Failed(ErrorReport.Lines(e)));
            return false;
        }
    }

    // Every backup command syncs at its end, also when the backup failed.
    private void Completed(BackupCompleted done) =>
        JobEnded(done.JobId, done, PassRuns.Of(done), done.Outcome.Changed, CommandReply.Ok());

    private void Failed(BackupFailed failed) =>
        JobEnded(failed.JobId, failed, PassRuns.Of(failed), [], CommandReply.Failed(failed.ErrorLines));

    /// <summary>A job's end: into status, then to its pass as it came, or to its command after a sync round.</summary>
    private void JobEnded(long jobId, IMessage ended, SourceRun run, ImmutableList<PendingPath> changed, CommandReply reply)
    {
        if (!_jobs.Remove(jobId, out var owner))
            return;
        Observe(new SourceEnded(owner.Source, run));
        if (owner.IsPass)
            owner.ReplyTo.Tell(ended);
        else
            Context.ActorOf(SyncRound.Props(SyncTarget, changed, new ReplyWith(owner.ReplyTo, reply)));
        CheckDrained();
    }

    /// <summary>The monitoring's notifier, when the monitoring block asks for pings; else nobody.</summary>
    private void StartNotifier()
    {
        var monitoring = _services.Settings.Monitoring;
        _notifier = monitoring.Any && _services.Pings is { } pings
            ? Context.ActorOf(Monitoring.Notifier.Props(monitoring, pings(monitoring), _services.Settings.LogFile,
                _services.Settings.Cluster?.Host ?? Environment.MachineName), Monitoring.Notifier.Name + "-" + (++_notifiers))
            : ActorRefs.Nobody;
    }

    /// <summary>A source began or ended: status (and the history, the metrics) and the monitoring hear of it.</summary>
    private void Observe(StatusChange change)
    {
        _statusKeeper.Tell(change);
        _notifier.Tell(change);
    }

    private void Synced(SyncRoundResult result)
    {
        // A destination that stopped or stayed silent did not sync: that is its last error.
        ImmutableList<DestinationSync> syncs =
        [
            .. result.Finished.Select(f => new DestinationSync(f.Destination, f.Failures) { Started = result.Started, BytesUploaded = f.Report.BytesUploaded, Pending = f.Pending.MustPush.Count + f.Pending.MustSync.Count }),
            .. result.SilentLines.Select(s => new DestinationSync(s.Destination, [s.Line]) { Started = result.Started }),
        ];
        var (target, message) = result.Tag switch
        {
            ReplyWith r => (r.ReplyTo, (object)result.Merge(r.Reply)),
            ToPass p => (p.Pass, result),
            _ => (ActorRefs.Nobody, result),
        };
        // The answer leaves once status.json has this round in it (see StatusSaved).
        var ack = ++_nextAck;
        _awaitingSave[ack] = (target, message);
        _statusKeeper.Tell(new DestinationsSynced(syncs, DateTime.UtcNow, ack));
    }

    private void Saved(StatusSaved saved)
    {
        if (_awaitingSave.Remove(saved.Ack, out var waiting))
            waiting.To.Tell(waiting.Message);
    }

    protected override void PostStop()
    {
        _stopping.Cancel();
        _stopping.Dispose();
        base.PostStop();
    }

    private void CheckDrained()
    {
        if (!_draining || _jobs.Count > 0 || _pass is not null || _pruning)
            return;
        foreach (var waiter in _drainWaiters)
            waiter.Tell(new Drained());
        _drainWaiters.Clear();
    }
}
