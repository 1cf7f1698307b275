using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.Protocol;
using BtwBackup.Series;

namespace BtwBackup.Actors;

/// <summary>What the Orchestrator needs from the outside world, built once at the edge.</summary>
public sealed record OrchestratorServices(
    GeneralSettings Settings,
    IBackupProcedure Backups,
    SeriesLister Lister);

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
        Receive<ExecuteCommand>(e => Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + "unknown command " + e.Command.GetType().Name])));
        Receive<BackupCompleted>(Completed);
        Receive<BackupFailed>(Failed);
    }

    public static Props Props(OrchestratorServices services, Func<string, Props>? sourceProps = null) =>
        Akka.Actor.Props.Create(() => new Orchestrator(services, sourceProps));

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(
            maxNrOfRetries: -1,
            withinTimeRange: Timeout.InfiniteTimeSpan,
            localOnlyDecider: _ => Directive.Restart);

    private void InitFileTree(InitFileTree init)
    {
        var settings = _services.Settings;
        try
        {
            var path = WorkingFolders.Create(settings.ConfigDir, init.Source, init.Name, init.Type, settings.Defaults);
            _log.Info("fs-init: created {0} for {1}", path, init.Source);
            Sender.Tell(CommandReply.Ok(ErrorReport.Prefix + "created " + path));
        }
        catch (Exception e) when (ErrorReport.IsExpected(e))
        {
            Sender.Tell(CommandReply.Failed(ErrorReport.Lines(e)));
        }
    }

    private void BackupFileTree(BackupFileTree backup, IActorRef? progressTo)
    {
        var settings = _services.Settings;
        WorkingFolder folder;
        try
        {
            folder = WorkingFolders.Load(settings.ConfigDir, backup.Source, settings.Defaults);
        }
        catch (Exception e) when (ErrorReport.IsExpected(e))
        {
            Sender.Tell(CommandReply.Failed(ErrorReport.Lines(e)));
            return;
        }

        Start(new FileTreeJob(folder, new SeriesLocation(settings.RootPath, backup.Dst), backup.Owner), progressTo);
    }

    private void BackupDatabase(BackupDatabase backup, IActorRef? progressTo)
    {
        var settings = _services.Settings;
        DatabaseTarget target;
        try
        {
            target = settings.Database(backup.Database);
        }
        catch (Exception e) when (ErrorReport.IsExpected(e))
        {
            Sender.Tell(CommandReply.Failed(ErrorReport.Lines(e)));
            return;
        }

        Start(new DatabaseJob(target, new SeriesLocation(settings.RootPath, backup.Dst), backup.Owner), progressTo);
    }

    private void Start(BackupJob job, IActorRef? progressTo)
    {
        var jobId = ++_nextJob;
        _waiting[jobId] = Sender;
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

    private void Completed(BackupCompleted done)
    {
        if (_waiting.Remove(done.JobId, out var replyTo))
            replyTo.Tell(new CommandReply(ExitCode.Ok, [], []));
    }

    private void Failed(BackupFailed failed)
    {
        if (_waiting.Remove(failed.JobId, out var replyTo))
            replyTo.Tell(CommandReply.Failed(failed.ErrorLines));
    }
}
