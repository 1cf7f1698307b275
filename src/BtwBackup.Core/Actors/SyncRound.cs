using System.Collections.Immutable;
using Akka.Actor;
using BtwBackup.Backup;
using BtwBackup.Protocol;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>
/// The end of every backup command (and the whole of <c>sync</c>): record what the command
/// created with every destination, wait until each has persisted it, then let each push and
/// sync everything pending, and reply to the CLI with the command's own result plus one line
/// per path that failed. One short-lived actor per command, so the Orchestrator stays free.
/// </summary>
public sealed class SyncRound : ReceiveActor
{
    private readonly IActorRef _replyTo;
    private readonly CommandReply _reply;
    private readonly Dictionary<string, SyncFinished> _finished = new();
    private readonly int _destinations;
    private int _recorded;

    public SyncRound(IReadOnlyList<IActorRef> destinations, ImmutableList<PendingPath> changed, IActorRef replyTo, CommandReply reply)
    {
        _replyTo = replyTo;
        _reply = reply;
        _destinations = destinations.Count;

        Receive<PendingRecorded>(_ =>
        {
            if (++_recorded == _destinations)
            {
                Context.SetReceiveTimeout(null);
                foreach (var d in destinations)
                    d.Tell(new RunSync(0));
            }
        });
        // Recording takes a journal write: a destination silent that long is down (its journal
        // failing, its supervisor backing off). Say so rather than wait forever; the log has why.
        Receive<ReceiveTimeout>(_ =>
        {
            _replyTo.Tell(_reply with
            {
                ExitCode = ExitCode.Error,
                Stderr = _reply.Stderr.Add(ErrorReport.Prefix + "a destination did not record the new backup in time: its sync state may be failing (see the log); run sync later"),
            });
            Context.Stop(Self);
        });
        Receive<SyncFinished>(f =>
        {
            _finished[f.Destination] = f;
            if (_finished.Count == _destinations)
                Finish();
        });

        if (destinations.Count == 0)
        {
            Finish();
            return;
        }

        Context.SetReceiveTimeout(RecordTimeout);
        foreach (var d in destinations)
            d.Tell(new RecordPending(0, changed));
    }

    private static readonly TimeSpan RecordTimeout = TimeSpan.FromMinutes(2);

    public static Props Props(IReadOnlyList<IActorRef> destinations, ImmutableList<PendingPath> changed, IActorRef replyTo, CommandReply reply) =>
        Akka.Actor.Props.Create(() => new SyncRound(destinations, changed, replyTo, reply));

    private void Finish()
    {
        var failures = _finished.Values.OrderBy(f => f.Destination, StringComparer.Ordinal).SelectMany(f => f.Failures).Select(f => ErrorReport.Prefix + f).ToList();
        _replyTo.Tell(failures.Count == 0
            ? _reply
            : _reply with { ExitCode = ExitCode.Error, Stderr = _reply.Stderr.AddRange(failures) });
        Context.Stop(Self);
    }
}
