using System.Collections.Immutable;
using Akka.Actor;
using BtwBackup.Backup;
using BtwBackup.Protocol;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>Who waits for a sync round: the parent's own note, carried through the round.</summary>
public abstract record RoundTag;

/// <summary>
/// What a sync round found: each destination's report, and each that did not sync (it stopped,
/// or was restarting) with why. <see cref="Tag"/> says who waits for it.
/// </summary>
public sealed record SyncRoundResult(RoundTag Tag, ImmutableList<SyncFinished> Finished, ImmutableSortedDictionary<string, string> Silent) : IMessage
{
    /// <summary>When the round began (the run history's start of each destination's sync).</summary>
    public DateTime Started { get; init; } = DateTime.UtcNow;

    /// <summary>
    /// The round asked for a sync of all of root (<c>sync --full</c>): a destination that stopped
    /// may have stopped before its journal held that request (a full disk, a journal that fails),
    /// and a plain <c>sync</c> would then find nothing pending, so the advice is to ask again.
    /// </summary>
    public bool Full { get; init; }

    /// <summary>Why <paramref name="destination"/> did not sync, with what to run once the cause is gone.</summary>
    public static string SilentLine(string destination, string why, bool full) =>
        $"{destination} did not sync: {why}; run sync{(full ? " --full" : "")} later";

    /// <summary>The line of each destination that did not sync (see <see cref="SilentLine"/>).</summary>
    public IEnumerable<(string Destination, string Line)> SilentLines => Silent.Select(kv => (kv.Key, SilentLine(kv.Key, kv.Value, Full)));

    public IEnumerable<string> FailureLines =>
        Finished.OrderBy(f => f.Destination, StringComparer.Ordinal).SelectMany(f => f.Failures)
            .Concat(SilentLines.Select(s => s.Line))
            .Select(f => ErrorReport.Prefix + f);

    /// <summary>A command's own reply with one line per path that failed; exit 1 when any did.</summary>
    public CommandReply Merge(CommandReply reply)
    {
        var failures = FailureLines.ToList();
        return failures.Count == 0 ? reply : reply with { ExitCode = ExitCode.Error, Stderr = reply.Stderr.AddRange(failures) };
    }
}

/// <summary>
/// The end of every backup command, of every pass (and the whole of <c>sync</c>): asks the
/// <see cref="Destinations"/> to record what was created and then push and sync everything
/// pending, and tells the parent (the Orchestrator) what happened. One short-lived actor per
/// round, so the Orchestrator stays free. No deadline: transfers may take hours; a destination
/// that stops meanwhile is reported by <see cref="Destinations"/> at once.
/// </summary>
public sealed class SyncRound : ReceiveActor
{
    private readonly DateTime _started = DateTime.UtcNow;

    public SyncRound(IActorRef? destinations, ImmutableList<PendingPath> changed, RoundTag tag, bool allowDeletes = false)
    {
        var full = changed.Any(p => p.Path == "" && p.Sync);
        Receive<AllAnswered>(a => Finish(tag, [.. a.Of<SyncFinished>()], a.Silent, full));

        if (destinations is null)
            Finish(tag, [], ImmutableSortedDictionary<string, string>.Empty, full);
        else
            destinations.Tell(new AskAll(0, new AskSync(changed, allowDeletes), Deadline: null));
    }

    /// <param name="destinations">null: none configured, or the daemon is draining (nothing is sent).</param>
    /// <param name="allowDeletes">sync --allow-deletes: an administrator's go-ahead past the deletion limits.</param>
    public static Props Props(IActorRef? destinations, ImmutableList<PendingPath> changed, RoundTag tag, bool allowDeletes = false) =>
        Akka.Actor.Props.Create(() => new SyncRound(destinations, changed, tag, allowDeletes));

    private void Finish(RoundTag tag, ImmutableList<SyncFinished> finished, ImmutableSortedDictionary<string, string> silent, bool full)
    {
        Context.Parent.Tell(new SyncRoundResult(tag, finished, silent) { Started = _started, Full = full });
        Context.Stop(Self);
    }
}
