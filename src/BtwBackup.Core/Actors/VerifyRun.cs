using System.Collections.Immutable;
using Akka.Actor;
using BtwBackup.Protocol;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>
/// <c>verify</c>: gathers every destination's sync state (what is pending) from the
/// <see cref="Destinations"/>, then runs the verification as a task whose reply goes straight
/// to the requester. A destination that does not answer in time is verified without its
/// pending list, and named.
/// </summary>
public sealed class VerifyRun : ReceiveActor
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    public VerifyRun(IActorRef? destinations, Func<IReadOnlyDictionary<string, SyncState>, Task<CommandReply>> verify, IActorRef replyTo)
    {
        void Run(IReadOnlyDictionary<string, SyncState> states)
        {
            verify(states).PipeTo(replyTo, failure: e => CommandReply.Failed(ErrorReport.Lines(e)));
            Context.Stop(Self);
        }

        Receive<AllAnswered>(a => Run(a.Of<SyncStateReport>().ToImmutableDictionary(r => r.Destination, r => r.State)));
        if (destinations is null)
            Run(ImmutableDictionary<string, SyncState>.Empty);
        else
            destinations.Tell(new AskAll(0, new AskState(), Patience));
    }

    public static Props Props(IActorRef? destinations, Func<IReadOnlyDictionary<string, SyncState>, Task<CommandReply>> verify, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new VerifyRun(destinations, verify, replyTo));
}
