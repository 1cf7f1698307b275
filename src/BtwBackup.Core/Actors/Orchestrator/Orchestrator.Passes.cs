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

namespace BtwBackup.Actors;

/// <summary>The Orchestrator's passes: <c>run</c>, and the daemon's schedule.</summary>
public sealed partial class Orchestrator
{
    private void RunPass(RunPass run, IActorRef replyTo, IActorRef? progressTo)
    {
        var settings = _services.Settings;
        if (_pass is not null)
        {
            replyTo.Tell(CommandReply.Failed([ErrorReport.Prefix + "a pass is already running: wait for it (status shows its sources)"]));
            return;
        }

        if (settings.Sources.IsEmpty)
        {
            replyTo.Tell(CommandReply.Failed([ErrorReport.Prefix + $"no source is configured: add them to sources in {settings.LoadedFrom}"]));
            return;
        }

        if (_pruning)
        {
            replyTo.Tell(CommandReply.Failed([ErrorReport.Prefix + "a prune is running: run when it has ended (nothing was backed up)"]));
            return;
        }

        var unknown = run.Sources.Where(n => settings.Sources.All(s => s.Name != n)).ToList();
        if (unknown.Any(n => n.Contains(':', StringComparison.Ordinal)))
        {
            replyTo.Tell(CommandReply.Failed([ErrorReport.Prefix + $"HOST:SOURCE and --host name the hosts of a cluster, and this {(_services.Daemon is null ? "configuration" : "daemon")} is a single node (no cluster block in {settings.LoadedFrom}): name its sources alone"]));
            return;
        }

        if (unknown.Count > 0)
        {
            replyTo.Tell(CommandReply.Failed([ErrorReport.Prefix + $"unknown source{(unknown.Count == 1 ? "" : "s")}: {string.Join(", ", unknown)} (configured: {string.Join(", ", settings.Sources.Select(s => s.Name))})"]));
            return;
        }

        var selected = run.Sources.IsEmpty ? settings.Sources : [.. settings.Sources.Where(s => run.Sources.Contains(s.Name))];
        // A placeholder until the pass actor exists: a second run in between is refused too.
        _pass = ActorRefs.Nobody;
        _passReplyTo = replyTo;
        // The jobs and the series to prune after (a policy may come from db/DB.conf) are read in the task, never in a handler.
        Task.Run(() =>
            {
                var items = PassJobs.Resolve(settings, selected);
                ImmutableList<string> prune = settings.PruneAfterPass
                    ? [.. items.Select(i => i.Dst).Distinct().Where(d => settings.RetentionOf(d) is not null)]
                    : [];
                return new PassResolved(items, prune, replyTo, progressTo);
            })
            .PipeTo(Self, failure: e => new PassBroken(ErrorReport.Lines(e)));
    }

    private void StartPass(PassResolved resolved)
    {
        _log.Info("pass: {0} source(s): {1}", resolved.Items.Count, string.Join(", ", resolved.Items.Select(i => i.Name)));
        _notifier.Tell(new Monitoring.PassBegan());
        // A source refused before its job (its path gone: an unmounted disk) failed this pass: status, the history and the metrics say so.
        foreach (var refused in resolved.Items.Where(i => i.Job is null))
        {
            Observe(new SourceStarted(refused.Name, refused.Type, refused.Dst));
            Observe(new SourceEnded(refused.Name, new SourceRun(SourceRun.Failed, null, refused.Error, DateTime.UtcNow, 0, 0)));
        }

        _pass = Context.ActorOf(Pass.Props(resolved.Items, _services.Settings.PassParallelism, resolved.ReplyTo, resolved.ProgressTo, resolved.Prune));
        Context.Watch(_pass);
    }

    /// <summary>A pass that could not start, or whose actor stopped on a bug: its requester hears of it, the next pass may run.</summary>
    private void PassEnded(IReadOnlyList<string> lines)
    {
        _log.Error("pass: ended without a summary: {0}", string.Join(" ", lines));
        _notifier.Tell(new Monitoring.PassOver(null, [.. lines]));
        _passReplyTo?.Tell(CommandReply.Failed(lines));
        _pass = null;
        _passReplyTo = null;
        CheckDrained();
    }

    private sealed record PassBroken(IReadOnlyList<string> Lines) : IMessage;

    private void ScheduleNext()
    {
        if (_services.Daemon is null || _draining)
            return;
        _nextRun = _services.Settings.Daemon.NextRun(DateTime.UtcNow);
        // A node of a cluster: the director runs the schedule, one pass over every host.
        if (_services.Director is not null)
            return;
        if (_nextRun is { } at)
            Timers.StartSingleTimer("schedule", new ScheduledPass(at), DaemonSettings.TimerWait(at, DateTime.UtcNow));
    }

    private void Scheduled(ScheduledPass scheduled)
    {
        if (DaemonSettings.IsEarly(scheduled.At, DateTime.UtcNow))
        {
            Timers.StartSingleTimer("schedule", scheduled, DaemonSettings.TimerWait(scheduled.At, DateTime.UtcNow));
            return;
        }

        if (_pass is not null)
            _log.Warning("schedule: the pass of {0} is skipped, the previous one is still running", SummaryFormat.Time(scheduled.At));
        else if (_pruning)
        {
            _log.Info("schedule: the pass of {0} waits for the prune that is running", SummaryFormat.Time(scheduled.At));
            _passDeferred = true;
        }
        else
        {
            _log.Info("schedule: pass of {0} starts", SummaryFormat.Time(scheduled.At));
            RunPass(new RunPass([], Json: false), ActorRefs.Nobody, null);
        }

        ScheduleNext();
    }

    private void PassDone(PassFinished f)
    {
        // The summary of a scheduled pass has no reader but the log.
        var summary = f.Summary;
        _notifier.Tell(new Monitoring.PassOver(summary, []));
        var line = $"pass: {(summary.Ok ? "done" : "done with failures")} in {summary.Seconds:0.0} s: "
            + SummaryFormat.SourceResults(summary)
            + string.Concat(summary.Pruned.Select(p => p.Error is null ? $"; pruned {p.Dst}: {p.Removed} removed, {p.Kept} kept" : $"; not pruned {p.Dst}: {p.Error}"))
            + string.Concat(summary.Destinations.Select(d => $"; {d.Name}: {d.Uploaded} uploaded, {d.Pending} pending"));
        if (summary.Ok)
            _log.Info("{0}", line);
        else
            _log.Warning("{0}", line);
        Context.Unwatch(Sender);
        _pass = null;
        _passReplyTo = null;
        // The pass is off the books before its requester hears of it, and the reply is on its way before a drain ends.
        f.ReplyTo.Tell(f.Reply);
        CheckDrained();
    }
}
