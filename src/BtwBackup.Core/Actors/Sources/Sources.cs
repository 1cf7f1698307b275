using Akka.Actor;
using Akka.Event;
using BtwBackup.Protocol;
using BtwBackup.Hosting;

namespace BtwBackup.Actors;

/// <summary>To <see cref="Sources"/>: run <paramref name="Start"/> on the SourceActor of <paramref name="Source"/>.</summary>
public sealed record RunJob(string Source, StartBackup Start) : IMessage;

/// <summary>
/// The sources' parent (/user/orchestrator/sources): one <see cref="SourceActor"/> per source,
/// created on first use. It owns what follows a failure: a source whose backup failed waits a
/// growing backoff before its next job (1 s, 2 s, 4 s... at most a minute; on this actor's timers),
/// its siblings untouched; a source that hit a bug is restarted. Every result goes to the
/// parent (the Orchestrator), which knows who waits for it. <see cref="CancelBackup"/> (the
/// daemon drains) cancels the backups in flight, answers each job held back by a backoff as
/// interrupted, and starts nothing after.
/// </summary>
public sealed class Sources : ReceiveActor, IWithTimers
{
    public const string Name = "sources";

    private static readonly TimeSpan LongestBackoff = TimeSpan.FromMinutes(1);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Func<string, Props> _sourceProps;
    private readonly TimeSpan _firstBackoff;
    private readonly Dictionary<string, (int Consecutive, DateTime At)> _failures = new(StringComparer.Ordinal);
    private readonly Dictionary<long, RunJob> _held = new();
    private bool _cancelled;

    public Sources(Func<string, Props> sourceProps, TimeSpan firstBackoff)
    {
        _sourceProps = sourceProps;
        _firstBackoff = firstBackoff;

        Receive<RunJob>(Run);
        Receive<Due>(d =>
        {
            if (_held.Remove(d.JobId, out var job))
                SourceFor(job.Source).Tell(job.Start);
        });
        Receive<BackupCompleted>(c =>
        {
            _failures.Remove(c.Source);
            Context.Parent.Tell(c);
        });
        Receive<BackupFailed>(f =>
        {
            var consecutive = _failures.TryGetValue(f.Source, out var before) ? before.Consecutive + 1 : 1;
            _failures[f.Source] = (consecutive, DateTime.UtcNow);
            Context.Parent.Tell(f);
        });
        Receive<CancelBackup>(_ =>
        {
            _cancelled = true;
            foreach (var (jobId, job) in _held)
                Context.Parent.Tell(Interrupted(jobId, job.Source));
            _held.Clear();
            Timers.CancelAll();
            foreach (var child in Context.GetChildren())
                child.Tell(new CancelBackup());
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Func<string, Props> sourceProps, TimeSpan firstBackoff) =>
        Akka.Actor.Props.Create(() => new Sources(sourceProps, firstBackoff)).OnThisHost();

    /// <summary>
    /// A SourceActor throws only on a bug (a failed backup is a result): it starts afresh, and its
    /// PreRestart tells the requester of the backup in flight and logs the trace; its waiting jobs
    /// go to the new incarnation. Never stopped: a stopped source would leave its requesters waiting.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(-1, -1, _ => Directive.Restart, loggingEnabled: false);

    private sealed record Due(long JobId) : IMessage;

    /// <summary>"interrupted", as a cancelled source answers.</summary>
    public static BackupFailed Interrupted(long jobId, string source) => new(jobId, source, [ErrorReport.Prefix + "interrupted"], TimeSpan.Zero);

    private void Run(RunJob job)
    {
        var jobId = job.Start.JobId;
        if (_cancelled)
        {
            Context.Parent.Tell(Interrupted(jobId, job.Source));
            return;
        }

        if (Backoff(job.Source) is { } wait)
        {
            _log.Info("source {0}: failed recently, its next backup starts in {1:0.0} s", job.Source, wait.TotalSeconds);
            _held[jobId] = job;
            Timers.StartSingleTimer(jobId, new Due(jobId), wait);
        }
        else
            SourceFor(job.Source).Tell(job.Start);
    }

    /// <summary>How long a source that failed <c>n</c> times in a row still waits: the first backoff doubled per further failure, at most a minute, from its last failure.</summary>
    private TimeSpan? Backoff(string source)
    {
        if (!_failures.TryGetValue(source, out var failure))
            return null;
        var delay = _firstBackoff * Math.Pow(2, Math.Min(failure.Consecutive - 1, 6));
        if (delay > LongestBackoff)
            delay = LongestBackoff;
        var wait = failure.At + delay - DateTime.UtcNow;
        return wait > TimeSpan.Zero ? wait : null;
    }

    private IActorRef SourceFor(string source)
    {
        var childName = "source-" + Uri.EscapeDataString(source);
        var child = Context.Child(childName);
        return child.IsNobody() ? Context.ActorOf(_sourceProps(source), childName) : child;
    }
}
