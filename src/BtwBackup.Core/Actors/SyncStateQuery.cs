using System.Collections.Immutable;
using Akka.Actor;
using BtwBackup.Protocol;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>
/// <c>sync-state --list</c> and <c>--reset</c> over every destination: gathers their states;
/// lists them (grouped by destination when there are several), or resets them all when none
/// has anything pending, else refuses with the original's message. One actor per command.
/// </summary>
public sealed class SyncStateQuery : ReceiveActor
{
    private readonly Dictionary<string, SyncState> _states = new();
    private int _resets;

    public SyncStateQuery(IReadOnlyList<IActorRef> destinations, bool reset, IActorRef replyTo)
    {
        Receive<SyncStateReport>(r =>
        {
            _states[r.Destination] = r.State;
            if (_states.Count < destinations.Count)
                return;
            if (!reset)
            {
                Reply(replyTo, CommandReply.Ok([.. ListLines(_states)]));
                return;
            }

            if (_states.Values.Any(s => !s.IsEmpty))
            {
                Reply(replyTo, CommandReply.Failed([ErrorReport.Prefix + SyncState.CannotReset]));
                return;
            }

            foreach (var d in destinations)
                d.Tell(new ResetSyncState(0));
        });
        Receive<ResetDone>(done =>
        {
            if (done.Refusal is not null)
                Reply(replyTo, CommandReply.Failed([ErrorReport.Prefix + done.Refusal]));
            else if (++_resets == destinations.Count)
                Reply(replyTo, CommandReply.Ok("The state was reset"));
        });

        if (destinations.Count == 0)
        {
            replyTo.Tell(CommandReply.Failed([ErrorReport.Prefix + "no destination is configured: there is no sync state (destinations in btw-backup.conf)"]));
            Context.Stop(Self);
            return;
        }

        foreach (var d in destinations)
            d.Tell(new GetSyncState(0));
    }

    public static Props Props(IReadOnlyList<IActorRef> destinations, bool reset, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new SyncStateQuery(destinations, reset, replyTo));

    /// <summary>The original's lines; under each destination's name, indented, when there are several.</summary>
    public static IEnumerable<string> ListLines(IReadOnlyDictionary<string, SyncState> states)
    {
        if (states.Count == 1)
            return states.Single().Value.ListLines();
        return states.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .SelectMany(kv => kv.Value.ListLines().Select(l => "  " + l).Prepend(kv.Key + ":"));
    }

    private void Reply(IActorRef replyTo, CommandReply reply)
    {
        replyTo.Tell(reply);
        Context.Stop(Self);
    }
}
