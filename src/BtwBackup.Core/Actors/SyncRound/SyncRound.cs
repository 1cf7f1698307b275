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
    /// The round was <c>sync --full</c> (with <c>--allow-deletes</c> when <see cref="AllowDeletes"/>):
    /// a destination that stopped may have stopped before its journal held that request (a full
    /// disk, a journal that fails), and a plain <c>sync</c> would then not find it, so the advice
    /// is to ask for it again.
    /// </summary>
    public bool Full { get; init; }

    public bool AllowDeletes { get; init; }

    /// <summary>Why <paramref name="destination"/> did not sync, with what to run once the cause is gone.</summary>
    private static string SilentLine(string destination, string why, bool full, bool allowDeletes) => full
        ? $"{destination} did not sync: {why}; run sync --full{(allowDeletes ? " --allow-deletes" : "")} later: the request itself may not be in the journal"
        : $"{destination} did not sync: {why}; run sync later";

    /// <summary>The line of each destination that did not sync (see <see cref="SilentLine"/>).</summary>
    public IEnumerable<(string Destination, string Line)> SilentLines => Silent.Select(kv => (kv.Key, SilentLine(kv.Key, kv.Value, Full, AllowDeletes)));

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
    private readonly bool _full;
    private readonly bool _allowDeletes;

    public SyncRound(IActorRef? destinations, ImmutableList<PendingPath> changed, RoundTag tag, bool allowDeletes = false, bool full = false)
    {
        _full = full;
        _allowDeletes = allowDeletes;
        Receive<AllAnswered>(a => Finish(tag, [.. a.Of<SyncFinished>()], a.Silent));

        if (destinations is null)
            Finish(tag, [], ImmutableSortedDictionary<string, string>.Empty);
        else
            destinations.Tell(new AskAll(0, new AskSync(changed, allowDeletes), Deadline: null));
    }

    /// <param name="destinations">null: none configured, or the daemon is draining (nothing is sent).</param>
    /// <param name="allowDeletes">sync --allow-deletes: an administrator's go-ahead past the deletion limits.</param>
    /// <param name="full">sync --full (<paramref name="changed"/> then holds root): said in the advice of a destination that did not sync.</param>
    public static Props Props(IActorRef? destinations, ImmutableList<PendingPath> changed, RoundTag tag, bool allowDeletes = false, bool full = false) =>
        Akka.Actor.Props.Create(() => new SyncRound(destinations, changed, tag, allowDeletes, full));

    private void Finish(RoundTag tag, ImmutableList<SyncFinished> finished, ImmutableSortedDictionary<string, string> silent)
    {
        Context.Parent.Tell(new SyncRoundResult(tag, finished, silent) { Started = _started, Full = _full, AllowDeletes = _allowDeletes });
        Context.Stop(Self);
    }
}
