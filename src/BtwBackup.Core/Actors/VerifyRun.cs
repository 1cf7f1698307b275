using System.Collections.Immutable;
using Akka.Actor;
using BtwBackup.Protocol;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>
/// <c>verify</c>: gathers every destination's sync state (what is pending), then runs the
/// verification as a task whose reply goes straight to the requester. A destination that does
/// not answer in time is verified without its pending list, and named.
/// </summary>
public sealed class VerifyRun : ReceiveActor
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly Dictionary<string, SyncState> _states = new(StringComparer.Ordinal);

    public VerifyRun(IReadOnlyList<IActorRef> destinations, Func<IReadOnlyDictionary<string, SyncState>, Task<CommandReply>> verify, IActorRef replyTo)
    {
        void Run()
        {
            var states = _states.ToImmutableDictionary();
            verify(states).PipeTo(replyTo, failure: e => CommandReply.Failed(ErrorReport.Lines(e)));
            Context.Stop(Self);
        }

        Receive<SyncStateReport>(r =>
        {
            _states[r.Destination] = r.State;
            if (_states.Count == destinations.Count)
                Run();
        });
        Receive<ReceiveTimeout>(_ => Run());

        if (destinations.Count == 0)
        {
            Run();
            return;
        }

        Context.SetReceiveTimeout(Patience);
        foreach (var d in destinations)
            d.Tell(new GetSyncState(0));
    }

    public static Props Props(IReadOnlyList<IActorRef> destinations, Func<IReadOnlyDictionary<string, SyncState>, Task<CommandReply>> verify, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new VerifyRun(destinations, verify, replyTo));
}
