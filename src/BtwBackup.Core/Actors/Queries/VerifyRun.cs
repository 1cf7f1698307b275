using System.Collections.Immutable;
using Akka.Actor;
using BtwBackup.Protocol;
using BtwBackup.Sync;
using BtwBackup.Hosting;

namespace BtwBackup.Actors;

/// <summary>
/// <c>verify</c>: gathers every destination's sync state (what is pending) from the
/// <see cref="Destinations"/> and each one's last sync from the <see cref="StatusKeeper"/>,
/// then runs the verification as a task whose reply goes straight to the requester. A
/// destination that does not answer in time is verified without its pending list, and named.
/// </summary>
public sealed class VerifyRun : ReceiveActor
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private IReadOnlyDictionary<string, SyncState>? _states;
    private IReadOnlyDictionary<string, DateTime?>? _lastSyncs;

    public VerifyRun(IActorRef keeper, IActorRef? destinations,
        Func<IReadOnlyDictionary<string, SyncState>, IReadOnlyDictionary<string, DateTime?>, Task<CommandReply>> verify, IActorRef replyTo)
    {
        void RunWhenComplete()
        {
            if (_states is null || _lastSyncs is null)
                return;
            verify(_states, _lastSyncs).PipeTo(replyTo, failure: e => CommandReply.Failed(ErrorReport.Lines(e)));
            Context.Stop(Self);
        }

        Receive<AllAnswered>(a =>
        {
            _states = a.Of<SyncStateReport>().ToImmutableDictionary(r => r.Destination, r => r.State);
            RunWhenComplete();
        });
        Receive<StatusSnapshot>(s =>
        {
            _lastSyncs = s.Status.Destinations.ToImmutableDictionary(kv => kv.Key, kv => kv.Value.LastSync);
            RunWhenComplete();
        });
        keeper.Tell(new GetStatus());
        if (destinations is null)
            _states = ImmutableDictionary<string, SyncState>.Empty;
        else
            destinations.Tell(new AskAll(0, new AskState(), Patience));
    }

    public static Props Props(IActorRef keeper, IActorRef? destinations,
        Func<IReadOnlyDictionary<string, SyncState>, IReadOnlyDictionary<string, DateTime?>, Task<CommandReply>> verify, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new VerifyRun(keeper, destinations, verify, replyTo)).OnThisHost();
}
