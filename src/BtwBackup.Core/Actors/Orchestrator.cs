using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.Protocol;
using BtwBackup.ObjectStore;
using BtwBackup.Series;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>What the Orchestrator needs from the outside world, built once at the edge.</summary>
public sealed record OrchestratorServices(
    GeneralSettings Settings,
    IBackupProcedure Backups,
    SeriesLister Lister)
{
    /// <summary>Opens a destination's object store; null when the settings have no destination.</summary>
    public Func<DestinationSettings, IObjectStore>? Stores { get; init; }

    /// <summary>Reads a destination's journal for <c>sync-state --history</c>.</summary>
    public Func<ActorSystem, string, DateTime?, Task<ImmutableList<string>>>? History { get; init; }
}

/// <summary>
/// The root of the tree (/user/orchestrator). Turns CLI commands into work: file-tree backups go
/// to one SourceActor per working folder (created on first use, supervised: a child that fails is
/// restarted, its siblings untouched); listings run as piped tasks. Replies with a
/// <see cref="CommandReply"/> the CLI prints as it is.
/// </summary>
public sealed class Orchestrator : ReceiveActor
{
    public const string Name = "orchestrator";

    private readonly OrchestratorServices _services;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<long, IActorRef> _waiting = new();
    private readonly List<(string Name, IActorRef Ref)> _destinations = [];
    private readonly Func<string, Props> _sourceProps;
    private long _nextJob;

    public Orchestrator(OrchestratorServices services, Func<string, Props>? sourceProps = null)
    {
        _services = services;
        _sourceProps = sourceProps ?? (name => SourceActor.Props(name, services.Backups));

        Receive<ExecuteCommand>(e => e.Command is InitFileTree, e => InitFileTree((InitFileTree)e.Command));
        Receive<ExecuteCommand>(e => e.Command is BackupFileTree, e => BackupFileTree((BackupFileTree)e.Command, e.ProgressTo));
        Receive<ExecuteCommand>(e => e.Command is BackupDatabase, e => BackupDatabase((BackupDatabase)e.Command, e.ProgressTo));
        Receive<ExecuteCommand>(e => e.Command is ListBackups, e => ListBackups((ListBackups)e.Command));
        Receive<ExecuteCommand>(e => e.Command is SyncNow, e => SyncNow((SyncNow)e.Command));
        Receive<ExecuteCommand>(e => e.Command is InspectSyncState, e => InspectSyncState((InspectSyncState)e.Command));
        Receive<ExecuteCommand>(e => Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + "unknown command " + e.Command.GetType().Name])));
        Receive<Resolved>(r => Start(r.Job, r.ReplyTo, r.ProgressTo));
        Receive<Refused>(r => r.ReplyTo.Tell(CommandReply.Failed(r.Lines)));
        Receive<BackupCompleted>(Completed);
        Receive<BackupFailed>(Failed);
    }

    public static Props Props(OrchestratorServices services, Func<string, Props>? sourceProps = null) =>
        Akka.Actor.Props.Create(() => new Orchestrator(services, sourceProps));

    protected override void PreStart()
    {
        var settings = _services.Settings;
        if (_services.Stores is not { } stores)
            return;
        var legacy = Path.Combine(settings.ConfigDir, "sync_state");
        foreach (var (d, index) in settings.Destinations.Select((d, i) => (d, i)))
        {
            var mirror = new Mirror(stores(d), settings.RootPath, d.Prefix, settings.Sync.Parallelism);
            var options = new DestinationOptions(d.Name, mirror, settings.Sync.HistoryWindow, settings.Sync.SnapshotEvery,
                LegacyStateFile: index == 0 ? legacy : null);
            // A journal failure stops a persistent actor: its backoff supervisor brings it back.
            var supervised = Akka.Pattern.BackoffSupervisor.Props(Akka.Pattern.Backoff.OnStop(
                DestinationActor.Props(options), "destination", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, maxNrOfRetries: -1));
            _destinations.Add((d.Name, Context.ActorOf(supervised, "destination-" + Uri.EscapeDataString(d.Name))));
        }
    }

    private IReadOnlyList<IActorRef> Destinations => [.. _destinations.Select(d => d.Ref)];

    private void SyncNow(SyncNow sync)
    {
        if (_destinations.Count == 0)
        {
            Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + "no destination is configured: add one to destinations in btw-backup.conf"]));
            return;
        }

        ImmutableList<PendingPath> changed = sync.Full ? [new PendingPath("", Sync: true)] : [];
        Context.ActorOf(SyncRound.Props(Destinations, changed, Sender, CommandReply.Ok()));
    }

    private void InspectSyncState(InspectSyncState inspect)
    {
        if (inspect.Action != SyncStateAction.History)
        {
            Context.ActorOf(SyncStateQuery.Props(Destinations, inspect.Action == SyncStateAction.Reset, Sender));
            return;
        }

        if (_services.History is not { } history || _destinations.Count == 0)
        {
            Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + "no destination is configured: there is no sync state (destinations in btw-backup.conf)"]));
            return;
        }

        var system = Context.System;
        var names = _destinations.Select(d => d.Name).ToList();
        ReadHistoryAsync(system, history, names, inspect.Since)
            .PipeTo(Sender, success: lines => new CommandReply(ExitCode.Ok, lines, []), failure: e => CommandReply.Failed(ErrorReport.Lines(e)));
    }

    private static async Task<ImmutableList<string>> ReadHistoryAsync(ActorSystem system, Func<ActorSystem, string, DateTime?, Task<ImmutableList<string>>> history, List<string> names, DateTime? since)
    {
        if (names.Count == 1)
            return await history(system, names[0], since);
        var lines = ImmutableList.CreateBuilder<string>();
        foreach (var name in names)
        {
            lines.Add(name + ":");
            lines.AddRange((await history(system, name, since)).Select(l => "  " + l));
        }

        return lines.ToImmutable();
    }

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(
            maxNrOfRetries: -1,
            withinTimeRange: Timeout.InfiniteTimeSpan,
            localOnlyDecider: _ => Directive.Restart);

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
        Resolve(() => new FileTreeJob(
            WorkingFolders.Load(settings.ConfigDir, backup.Source, settings.Defaults),
            new SeriesLocation(settings.RootPath, backup.Dst),
            backup.Owner), progressTo);
    }

    private void BackupDatabase(BackupDatabase backup, IActorRef? progressTo)
    {
        var settings = _services.Settings;
        Resolve(() => new DatabaseJob(settings.Database(backup.Database), new SeriesLocation(settings.RootPath, backup.Dst), backup.Owner), progressTo);
    }

    /// <summary>Builds a job from its settings files in a task; the job comes back as <see cref="Resolved"/>, a refusal as <see cref="Refused"/>.</summary>
    private void Resolve(Func<BackupJob> build, IActorRef? progressTo)
    {
        var replyTo = Sender;
        Task.Run(build).PipeTo(Self,
            success: job => new Resolved(job, replyTo, progressTo),
            failure: e => new Refused(replyTo, ErrorReport.Lines(e)));
    }

    private sealed record Resolved(BackupJob Job, IActorRef ReplyTo, IActorRef? ProgressTo);

    private sealed record Refused(IActorRef ReplyTo, IReadOnlyList<string> Lines);

    private void Start(BackupJob job, IActorRef replyTo, IActorRef? progressTo)
    {
        var destinations = Destinations;
        if (destinations.Count > 0)
        {
            job = job with
            {
                // From the backup's task, not from a handler: the increment waits until every
                // destination has persisted the intent, and gives up (no increment) if one is down.
                Announce = async (path, ct) =>
                {
                    try
                    {
                        await Task.WhenAll(destinations.Select(d => d.Ask<PendingRecorded>(new RecordPending(0, [path]), TimeSpan.FromMinutes(2), ct)));
                    }
                    catch (AskTimeoutException)
                    {
                        throw new BackupException($"a destination did not record the sync of {path} in time (see the log): no increment was made");
                    }
                },
            };
        }

        var jobId = ++_nextJob;
        _waiting[jobId] = replyTo;
        SourceFor(job.SourceName).Tell(new StartBackup(jobId, job, progressTo));
    }

    private IActorRef SourceFor(string sourceName)
    {
        var childName = Uri.EscapeDataString(sourceName);
        var child = Context.Child(childName);
        return child.IsNobody() ? Context.ActorOf(_sourceProps(sourceName), childName) : child;
    }

    private void ListBackups(ListBackups list)
    {
        var series = new SeriesLocation(_services.Settings.RootPath, list.Dst);
        _services.Lister.ListAsync(series, CancellationToken.None)
            .PipeTo(
                Sender,
                success: lines => new CommandReply(ExitCode.Ok, lines, []),
                failure: e => CommandReply.Failed(ErrorReport.Lines(e)));
    }

    // Every backup command syncs at its end, also when the backup failed.
    private void Completed(BackupCompleted done)
    {
        if (_waiting.Remove(done.JobId, out var replyTo))
            Context.ActorOf(SyncRound.Props(Destinations, done.Outcome.Changed, replyTo, CommandReply.Ok()));
    }

    private void Failed(BackupFailed failed)
    {
        if (_waiting.Remove(failed.JobId, out var replyTo))
            Context.ActorOf(SyncRound.Props(Destinations, [], replyTo, CommandReply.Failed(failed.ErrorLines)));
    }
}
