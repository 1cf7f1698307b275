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
                foreach (var d in destinations)
                    d.Tell(new RunSync(0));
            }
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

        foreach (var d in destinations)
            d.Tell(new RecordPending(0, changed));
    }

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
