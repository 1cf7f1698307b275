using System.Collections.Immutable;
using Akka.Actor;
using BtwBackup.Backup;
using BtwBackup.Protocol;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>
/// What a sync round found: each destination's report, or <see cref="TimedOut"/> when one did
/// not record the new paths in time. <see cref="Tag"/> says who waits for it.
/// </summary>
public sealed record SyncRoundResult(object Tag, ImmutableList<SyncFinished> Finished, bool TimedOut)
{
    public const string TimeoutLine = "a destination did not record the new backup in time: its sync state may be failing (see the log); run sync later";

    public IEnumerable<string> FailureLines =>
        Finished.OrderBy(f => f.Destination, StringComparer.Ordinal).SelectMany(f => f.Failures)
            .Concat(TimedOut ? [TimeoutLine] : [])
            .Select(f => ErrorReport.Prefix + f);

    /// <summary>A command's own reply with one line per path that failed; exit 1 when any did.</summary>
    public CommandReply Merge(CommandReply reply)
    {
        var failures = FailureLines.ToList();
        return failures.Count == 0 ? reply : reply with { ExitCode = ExitCode.Error, Stderr = reply.Stderr.AddRange(failures) };
    }
}

/// <summary>
/// The end of every backup command, of every pass (and the whole of <c>sync</c>): record what
/// was created with every destination, wait until each has persisted it, then let each push
/// and sync everything pending, and tell the parent (the Orchestrator) what happened. One
/// short-lived actor per round, so the Orchestrator stays free.
/// </summary>
public sealed class SyncRound : ReceiveActor
{
    private static readonly TimeSpan RecordTimeout = TimeSpan.FromMinutes(2);

    private readonly object _tag;
    private readonly Dictionary<string, SyncFinished> _finished = new();
    private readonly int _destinations;
    private int _recorded;

    public SyncRound(IReadOnlyList<IActorRef> destinations, ImmutableList<PendingPath> changed, object tag, bool allowDeletes = false)
    {
        _tag = tag;
        _destinations = destinations.Count;

        Receive<PendingRecorded>(_ =>
        {
            if (++_recorded == _destinations)
            {
                Context.SetReceiveTimeout(null);
                foreach (var d in destinations)
                    d.Tell(new RunSync(0, allowDeletes));
            }
        });
        // Recording takes a journal write: a destination silent that long is down (its journal
        // failing, its supervisor backing off). Say so rather than wait forever; the log has why.
        Receive<ReceiveTimeout>(_ => Finish(timedOut: true));
        Receive<SyncFinished>(f =>
        {
            _finished[f.Destination] = f;
            if (_finished.Count == _destinations)
                Finish(timedOut: false);
        });

        if (destinations.Count == 0)
        {
            Finish(timedOut: false);
            return;
        }

        Context.SetReceiveTimeout(RecordTimeout);
        foreach (var d in destinations)
            d.Tell(new RecordPending(0, changed));
    }

    /// <param name="allowDeletes">sync --allow-deletes: an administrator's go-ahead past the deletion limits.</param>
    public static Props Props(IReadOnlyList<IActorRef> destinations, ImmutableList<PendingPath> changed, object tag, bool allowDeletes = false) =>
        Akka.Actor.Props.Create(() => new SyncRound(destinations, changed, tag, allowDeletes));

    private void Finish(bool timedOut)
    {
        Context.Parent.Tell(new SyncRoundResult(_tag, [.. _finished.Values], timedOut));
        Context.Stop(Self);
    }
}
