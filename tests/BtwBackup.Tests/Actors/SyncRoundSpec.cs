using System.Collections.Immutable;
using Akka.TestKit.Xunit2;
using BtwBackup.Actors;
using BtwBackup.Backup;
using Xunit;

namespace BtwBackup.Tests.Actors;

/// <summary>
/// A sync round whose destination stopped before it answered: the advice in its line is the
/// command that redoes what may be lost. After a plain sync or a backup, what was asked is in the
/// journal already (a plain sync finishes it); after sync --full, the request itself may not be.
/// </summary>
public sealed class SyncRoundSpec : TestKit
{
    /// <summary>Who waits for the round, in these tests.</summary>
    private sealed record Waiting : RoundTag;

    private const string Stopped = "stopped before it answered (most often its sync journal failed: see the log); what it had not done stays pending";

    private SyncRoundResult RoundWithAStoppedDestination(ImmutableList<PendingPath> changed, bool allowDeletes, bool full)
    {
        var destinations = CreateTestProbe();
        ChildActorOf(SyncRound.Props(destinations.Ref, changed, new Waiting(), allowDeletes, full));
        var ask = destinations.ExpectMsg<AskAll>();
        var sync = Assert.IsType<AskSync>(ask.Ask);
        Assert.Equal(changed, sync.Changed);
        Assert.Equal(allowDeletes, sync.AllowDeletes);
        destinations.Reply(new AllAnswered(ask.Id, [], ImmutableSortedDictionary<string, string>.Empty.Add("offsite", Stopped), ImmutableSortedDictionary<string, int>.Empty));
        return ExpectMsg<SyncRoundResult>();
    }

    [Fact]
    public void After_a_plain_sync_or_a_backup_the_advice_is_a_plain_sync()
    {
        var plain = RoundWithAStoppedDestination([], allowDeletes: false, full: false);
        Assert.Equal([$"btw-backup: offsite did not sync: {Stopped}; run sync later"], plain.FailureLines);

        var afterBackup = RoundWithAStoppedDestination([new PendingPath("www/2016-01-01T00:00:00/", Sync: true)], allowDeletes: false, full: false);
        Assert.Equal([("offsite", $"offsite did not sync: {Stopped}; run sync later")], afterBackup.SilentLines);
    }

    [Fact]
    public void After_sync_full_the_advice_is_sync_full_with_the_same_go_ahead()
    {
        var full = RoundWithAStoppedDestination([new PendingPath("", Sync: true)], allowDeletes: false, full: true);
        Assert.Equal([$"btw-backup: offsite did not sync: {Stopped}; run sync --full later: the request itself may not be in the journal"], full.FailureLines);

        var allowed = RoundWithAStoppedDestination([new PendingPath("", Sync: true)], allowDeletes: true, full: true);
        Assert.Equal([$"btw-backup: offsite did not sync: {Stopped}; run sync --full --allow-deletes later: the request itself may not be in the journal"], allowed.FailureLines);
    }
}
