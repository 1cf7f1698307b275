using System.Collections.Immutable;
using Akka.Actor;
using BtwBackup.Protocol;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>
/// <c>sync-state --list</c> and <c>--reset</c> over every destination, asked of the
/// <see cref="Destinations"/>: lists their states (grouped by destination when there are
/// several), or resets them all when none has anything pending, else refuses with the
/// original's message. A destination that does not answer in time is named, with why; a
/// reset then changes nothing. One actor per command.
/// </summary>
public sealed class SyncStateQuery : ReceiveActor
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private const long Query = 1;
    private const long Resetting = 2;

    public SyncStateQuery(IActorRef? destinations, bool reset, IActorRef replyTo)
    {
        Receive<AllAnswered>(a => a.Id == Query, a =>
        {
            var states = a.Of<SyncStateReport>().ToDictionary(r => r.Destination, r => r.State, StringComparer.Ordinal);
            var silent = a.SilentLines.Select(l => ErrorReport.Prefix + l).ToImmutableList();
            if (!reset)
                Reply(replyTo, CommandReply.Of(new SyncStateListing([.. states.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value.Pending(kv.Key))]), silent.IsEmpty, silent));
            else if (!silent.IsEmpty)
                Reply(replyTo, CommandReply.Failed([.. silent, ErrorReport.Prefix + "nothing was reset"]));
            else if (states.Values.Any(s => !s.IsEmpty))
                Reply(replyTo, CommandReply.Failed([ErrorReport.Prefix + SyncState.CannotReset]));
            else
                destinations!.Tell(new AskAll(Resetting, new AskReset(), Patience));
        });
        Receive<AllAnswered>(a => a.Id == Resetting, a =>
        {
            var problems = a.Of<ResetDone>().Select(d => d.Refusal).OfType<string>().Concat(a.SilentLines).Select(l => ErrorReport.Prefix + l).ToImmutableList();
            Reply(replyTo, problems.IsEmpty ? CommandReply.Ok("The state was reset") : CommandReply.Failed(problems));
        });

        if (destinations is null)
        {
            replyTo.Tell(CommandReply.Failed([ErrorReport.Prefix + "no destination is configured: there is no sync state (destinations in btw-backup.conf)"]));
            Context.Stop(Self);
            return;
        }

        destinations.Tell(new AskAll(Query, new AskState(), Patience));
    }

    public static Props Props(IActorRef? destinations, bool reset, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new SyncStateQuery(destinations, reset, replyTo));

    private void Reply(IActorRef replyTo, CommandReply reply)
    {
        replyTo.Tell(reply);
        Context.Stop(Self);
    }
}
