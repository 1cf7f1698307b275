using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using BtwBackup.Actors;
using BtwBackup.Backup;
using BtwBackup.Sync;
using Xunit;

namespace BtwBackup.Tests.Actors;

/// <summary>The Destinations actor over stand-in destinations that answer, stay silent, stop, or answer late.</summary>
public sealed class DestinationsSpec() : TestKit(BtwBackup.Tests.Actors.SerializedMessages.Config)
{
    private static DestinationOptions Options(string name) => new(name, null!, TimeSpan.FromDays(90));

    private static SyncState StateSaying(string path) => SyncState.Empty.Apply(new PushRequested(DateTime.UtcNow, path));

    /// <summary>Answers every request at once, its state naming itself.</summary>
    private sealed class Answering : ReceiveActor
    {
        public Answering(string name)
        {
            Receive<GetSyncState>(g => Sender.Tell(new SyncStateReport(g.Correlation, name, StateSaying(name))));
            Receive<RecordPending>(r => Sender.Tell(new PendingRecorded(r.Correlation, name)));
            Receive<RunSync>(r => Sender.Tell(new SyncFinished(r.Correlation, name, TransferReport.None, [], SyncState.Empty)));
        }
    }

    /// <summary>Answers the n-th state request after <paramref name="delay"/>, its state saying "n".</summary>
    private sealed class Late : ReceiveActor
    {
        public Late(string name, TimeSpan delay)
        {
            var n = 0;
            Receive<GetSyncState>(g =>
            {
                var reply = new SyncStateReport(g.Correlation, name, StateSaying((++n).ToString(System.Globalization.CultureInfo.InvariantCulture)));
                Context.System.Scheduler.ScheduleTellOnce(delay, Sender, reply, Self);
            });
        }
    }

    /// <summary>Stops in the middle of a sync run, as a DestinationActor whose journal fails does; sound once restarted (the second incarnation).</summary>
    private sealed class StopsOnFirstRun : ReceiveActor
    {
        public static int Incarnations;

        public StopsOnFirstRun(string name)
        {
            var incarnation = Interlocked.Increment(ref Incarnations);
            Receive<GetSyncState>(g => Sender.Tell(new SyncStateReport(g.Correlation, name, SyncState.Empty)));
            Receive<RecordPending>(r => Sender.Tell(new PendingRecorded(r.Correlation, name)));
            Receive<RunSync>(r =>
            {
                if (incarnation == 1)
                    Context.Stop(Self);
                else
                    Sender.Tell(new SyncFinished(r.Correlation, name, TransferReport.None, [], SyncState.Empty));
            });
        }
    }

    private IActorRef Destinations(params (string Name, Func<string, Props> Props)[] children) =>
        Sys.ActorOf(BtwBackup.Actors.Destinations.Props(
            [.. children.Select(c => Options(c.Name))],
            o => children.Single(c => c.Name == o.Name).Props(o.Name)));

    [Fact]
    public void A_destination_that_never_answers_is_named_at_the_deadline_and_the_others_answer()
    {
        var destinations = Destinations(("a", n => Props.Create(() => new Answering(n))), ("mute", _ => Props.Create(() => new Mute())));

        destinations.Tell(new AskAll(7, new AskState(), TimeSpan.FromSeconds(1)));
        var answer = ExpectMsg<AllAnswered>(TimeSpan.FromSeconds(5));

        Assert.Equal(7, answer.Id);
        Assert.Equal(["a"], answer.Of<SyncStateReport>().Select(r => r.Destination));
        Assert.Equal(["a"], answer.Of<SyncStateReport>().Single().State.MustPush);
        Assert.Equal(["mute: did not answer within 1 s (its sync journal may be failing: see the log)"], answer.SilentLines);
    }

    private sealed class Mute : ReceiveActor
    {
        public Mute() => ReceiveAny(_ => { });
    }

    [Fact]
    public void A_reply_that_comes_after_its_deadline_is_never_counted_for_a_later_request()
    {
        var destinations = Destinations(("slow", n => Props.Create(() => new Late(n, TimeSpan.FromMilliseconds(1500)))));

        destinations.Tell(new AskAll(1, new AskState(), TimeSpan.FromMilliseconds(500)));
        Assert.Equal(["slow"], ExpectMsg<AllAnswered>(a => a.Id == 1, TimeSpan.FromSeconds(5)).Silent.Keys);

        // The first reply comes 1 s into this request: it must be dropped, and this one answered by the second.
        destinations.Tell(new AskAll(2, new AskState(), TimeSpan.FromSeconds(5)));
        var second = ExpectMsg<AllAnswered>(a => a.Id == 2, TimeSpan.FromSeconds(10));
        Assert.Empty(second.Silent);
        Assert.Equal(["2"], second.Of<SyncStateReport>().Single().State.MustPush);
    }

    [Fact]
    public void A_destination_that_stops_mid_run_is_reported_at_once_restarted_after_a_backoff_and_then_answers()
    {
        StopsOnFirstRun.Incarnations = 0;
        var destinations = Destinations(("a", n => Props.Create(() => new Answering(n))), ("flaky", n => Props.Create(() => new StopsOnFirstRun(n))));

        // No deadline (a sync may take hours): the stop itself ends the wait.
        destinations.Tell(new AskAll(1, new AskSync([new PendingPath("www", Sync: true)], AllowDeletes: false), Deadline: null));
        var sync = ExpectMsg<AllAnswered>(TimeSpan.FromSeconds(5));
        Assert.Equal(["a"], sync.Of<SyncFinished>().Select(f => f.Destination));
        Assert.StartsWith("flaky: stopped before it answered", Assert.Single(sync.SilentLines));

        // While it waits for its restart, a request gets "restarting" at once, not a dead letter.
        destinations.Tell(new AskAll(2, new AskState(), TimeSpan.FromSeconds(30)));
        var meanwhile = ExpectMsg<AllAnswered>(TimeSpan.FromSeconds(2));
        Assert.EndsWith("restarting", meanwhile.Silent["flaky"]);
        Assert.Equal(1, meanwhile.Restarts["flaky"]);

        AwaitAssert(() =>
        {
            destinations.Tell(new AskAll(3, new AskSync([], AllowDeletes: false), TimeSpan.FromSeconds(5)));
            var after = ExpectMsg<AllAnswered>(TimeSpan.FromSeconds(5));
            Assert.Empty(after.Silent);
            Assert.Equal(["a", "flaky"], after.Of<SyncFinished>().Select(f => f.Destination));
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(300));
        Assert.Equal(2, StopsOnFirstRun.Incarnations);
    }

    /// <summary>Writer locks held in memory: one id may be held by "another process", and a held lock can be marked lost.</summary>
    private sealed class Locks : IWriterLocks
    {
        public volatile string? HeldElsewhere;
        public int Taken;
        public readonly List<Lock> Given = [];

        public Task<IWriterLock> AcquireAsync(string persistenceId, CancellationToken ct)
        {
            if (persistenceId == HeldElsewhere)
                throw new WriterLockRefusedException(persistenceId + " is written by another process (btw-backup pid 42 on elsewhere)");
            Interlocked.Increment(ref Taken);
            var held = new Lock();
            lock (Given)
                Given.Add(held);
            return Task.FromResult<IWriterLock>(held);
        }

        public sealed class Lock : IWriterLock
        {
            public volatile bool Lost;
            public volatile bool Released;

            public Task CheckAsync(CancellationToken ct) => Lost ? throw new InvalidOperationException("the session ended") : Task.CompletedTask;

            public ValueTask DisposeAsync()
            {
                Released = true;
                return ValueTask.CompletedTask;
            }
        }
    }

    private IActorRef LockedDestinations(Locks locks, params string[] names) =>
        Sys.ActorOf(BtwBackup.Actors.Destinations.Props(
            [.. names.Select(n => Options(n) with { PersistenceId = "sync/h/" + n })],
            o => Props.Create(() => new Answering(o.Name)),
            locks));

    [Fact]
    public void A_destination_whose_writer_lock_another_process_holds_is_not_started_names_the_holder_and_starts_once_free()
    {
        var locks = new Locks { HeldElsewhere = "sync/h/b" };
        var destinations = LockedDestinations(locks, "a", "b");

        // Asked at once: the request waits for the locks being taken, then names who holds b's.
        destinations.Tell(new AskAll(1, new AskState(), TimeSpan.FromSeconds(5)));
        var answer = ExpectMsg<AllAnswered>(TimeSpan.FromSeconds(5));
        Assert.Equal(["a"], answer.Of<SyncStateReport>().Select(r => r.Destination));
        Assert.Equal(["b: sync/h/b is written by another process (btw-backup pid 42 on elsewhere)"], answer.SilentLines);

        locks.HeldElsewhere = null;
        AwaitAssert(() =>
        {
            destinations.Tell(new AskAll(2, new AskState(), TimeSpan.FromSeconds(5)));
            Assert.Equal(["a", "b"], ExpectMsg<AllAnswered>(TimeSpan.FromSeconds(5)).Of<SyncStateReport>().Select(r => r.Destination));
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(300));
        Assert.Equal(2, locks.Taken);
    }

    [Fact]
    public void A_destination_whose_writer_lock_is_lost_is_stopped_and_started_again_once_it_holds_the_lock_anew()
    {
        var locks = new Locks();
        var destinations = LockedDestinations(locks, "a");
        destinations.Tell(new AskAll(1, new AskState(), TimeSpan.FromSeconds(5)));
        Assert.Empty(ExpectMsg<AllAnswered>(TimeSpan.FromSeconds(5)).Silent);
        var first = Assert.Single(locks.Given);

        first.Lost = true;
        AwaitAssert(() =>
        {
            destinations.Tell(new AskAll(2, new AskState(), TimeSpan.FromSeconds(5)));
            var down = ExpectMsg<AllAnswered>(TimeSpan.FromSeconds(5));
            Assert.Matches("^a: stopped at .*: it lost its writer lock \\(see the log\\), restarting$", Assert.Single(down.SilentLines));
        }, BtwBackup.Actors.Destinations.LockCheckEvery * 3, TimeSpan.FromMilliseconds(100));
        Assert.True(first.Released, "the lost lock was not let go");

        AwaitAssert(() =>
        {
            destinations.Tell(new AskAll(3, new AskState(), TimeSpan.FromSeconds(5)));
            Assert.Empty(ExpectMsg<AllAnswered>(TimeSpan.FromSeconds(5)).Silent);
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(300));
        Assert.Equal(2, locks.Taken);
    }
}
