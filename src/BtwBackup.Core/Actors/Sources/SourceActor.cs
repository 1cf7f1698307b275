using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using BtwBackup.Backup;
using BtwBackup.Protocol;
using BtwBackup.Hosting;

namespace BtwBackup.Actors;

/// <summary>
/// One source (a file tree or a database). Runs one backup at a time as a task piped back to
/// itself, so its mailbox stays free (status queries are answered while tar runs). Further
/// requests wait in the stash. A backup that fails for a known reason (a missing source, a
/// tool's exit code, a full disk, an S3 error, a cancellation) is a result: reported to its
/// requester, and the actor goes on. Only a bug throws, so that its supervisor restarts it with
/// a clean state. Once cancelled (the daemon drains), it starts no backup again: each request
/// that waited, or comes, is answered "interrupted".
/// </summary>
public sealed class SourceActor : ReceiveActor, IWithUnboundedStash
{
    private readonly string _name;
    private readonly IBackupProcedure _procedure;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private CancellationTokenSource _cts = new();
    private Running? _current;
    private bool _cancelled;

    public SourceActor(string name, IBackupProcedure procedure)
    {
        _name = name;
        _procedure = procedure;
        Become(Idle);
    }

    public IStash Stash { get; set; } = null!;

    public static Props Props(string name, IBackupProcedure procedure) =>
        Akka.Actor.Props.Create(() => new SourceActor(name, procedure)).OnThisHost();

    private sealed record Running(StartBackup Request, IActorRef ReplyTo, Stopwatch Clock);

    private sealed record Finished(long JobId, BackupOutcome Outcome) : IMessage;

    /// <summary>A backup that ended in an exception, as data: the lines for its requester, and whether it was a known failure or a bug (logged with its trace where it happened).</summary>
    private sealed record Crashed(long JobId, ImmutableList<string> Lines, string Message, bool Bug) : IMessage;

    private void Idle()
    {
        Receive<StartBackup>(Start);
        Receive<GetSourceStatus>(_ => Sender.Tell(Status(false)));
        Receive<CancelBackup>(_ => _cancelled = true);
    }

    private void Busy()
    {
        Receive<StartBackup>(_ => Stash.Stash());
        Receive<GetSourceStatus>(_ => Sender.Tell(Status(true)));
        Receive<CancelBackup>(_ =>
        {
            _cancelled = true;
            _cts.Cancel();
        });
        Receive<Finished>(f => f.JobId == _current?.Request.JobId, f =>
        {
            var current = _current!;
            _current = null;
            _log.Info("source {0}: backup {1} done: {2} {3} in {4}", _name, f.JobId, f.Outcome.Kind, f.Outcome.Name, current.Clock.Elapsed);
            foreach (var w in f.Outcome.Warnings)
                _log.Warning("source {0}: {1}", _name, w);
            current.ReplyTo.Tell(new BackupCompleted(f.JobId, _name, f.Outcome, current.Clock.Elapsed));
            Become(Idle);
            Stash.UnstashAll();
        });
        Receive<Crashed>(c => c.JobId == _current?.Request.JobId, c =>
        {
            Fail(c.Lines);
            // A bug: the actor starts afresh (its supervisor restarts it); the stash goes to the new incarnation.
            if (c.Bug)
                throw new SourceCrashedException(_name, new InvalidOperationException(c.Message));
            _log.Warning("source {0}: backup {1} failed: {2}", _name, c.JobId, c.Message);
            Become(Idle);
            Stash.UnstashAll();
        });
    }

    private void Start(StartBackup start)
    {
        if (_cancelled)
        {
            Sender.Tell(Sources.Interrupted(start.JobId, _name));
            return;
        }

        _current = new Running(start, Sender, Stopwatch.StartNew());
        _log.Info("source {0}: backup {1} of {2} into {3} starts", _name, start.JobId, start.Job.Subject, start.Job.Series.Dst);
        var progress = ActorProgress.To(start.ProgressTo, _name);
        var jobId = start.JobId;
        Func<PendingPath, CancellationToken, Task>? announce = start.Destinations is { } destinations
            ? (path, ct) => Actors.Destinations.RecordAsync(destinations, [path],
                $"a destination did not record the sync of {path} in time (see the log): no increment was made", ct)
            : null;
        RunAsync(start, progress, announce, _cts.Token)
            .PipeTo(Self, success: o => new Finished(jobId, o), failure: e => CrashedWith(jobId, e));
        Become(Busy);
    }

    /// <summary>
    /// Every destination must be able to record what the backup will store before it starts (one
    /// held by another process, or whose journal fails, cannot): else the backup would land in
    /// root with nothing pending to carry it off-site, and no later sync would know of it.
    /// </summary>
    private async Task<BackupOutcome> RunAsync(StartBackup start, IProgress<string>? progress, Func<PendingPath, CancellationToken, Task>? announce, CancellationToken ct)
    {
        if (start.Destinations is { } destinations)
            await Actors.Destinations.RecordAsync(destinations, [], "no backup was made: a destination cannot record what it would store", ct);
        return await _procedure.RunAsync(start.Job, progress, announce, ct);
    }

    private SourceStatus Status(bool busy) => new(_name, busy);

    /// <summary>A failed backup as data; a bug is logged here, with its trace, since only its lines travel on.</summary>
    private Crashed CrashedWith(long jobId, Exception e)
    {
        var cause = ErrorReport.Unwrap(e);
        var bug = !ErrorReport.IsExpected(cause) && cause is not OperationCanceledException;
        if (bug)
            _log.Error(cause, "source {0}: backup {1} failed on an unexpected error", _name, jobId);
        return new Crashed(jobId, [.. ErrorReport.Lines(cause)], cause.Message, bug);
    }

    /// <summary>Tells the requester of the backup in flight that it failed, and why.</summary>
    private void Fail(IReadOnlyList<string> lines)
    {
        if (_current is not { } current)
            return;
        current.ReplyTo.Tell(new BackupFailed(current.Request.JobId, _name, [.. lines], current.Clock.Elapsed));
        _current = null;
    }

    protected override void PreRestart(Exception reason, object message)
    {
        if (_current is { } current)
        {
            // Thrown by a handler rather than by the backup: the backup's requester still hears of it.
            _log.Error(ErrorReport.Unwrap(reason), "source {0}: backup {1} failed on an unexpected error", _name, current.Request.JobId);
            Fail([.. ErrorReport.Lines(ErrorReport.Unwrap(reason))]);
        }

        _cts.Cancel();
        // Requests waiting in the stash go back to the mailbox of the new incarnation.
        base.PreRestart(reason, message);
    }

    protected override void PostStop()
    {
        _cts.Cancel();
        _cts.Dispose();
    }

    protected override void PostRestart(Exception reason)
    {
        _cts = new CancellationTokenSource();
        Monitoring.Telemetry.Restarted("source");
        base.PostRestart(reason);
    }
}
