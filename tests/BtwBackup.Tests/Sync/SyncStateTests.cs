using BtwBackup.Cli;
using BtwBackup.Protocol;
using BtwBackup.Sync;
using Xunit;

namespace BtwBackup.Tests.Sync;

public class SyncStateTests
{
    /// <summary>What sync-state --list prints for one destination in this state.</summary>
    private static IEnumerable<string> Listed(SyncState s) => Rendering.Lines(new SyncStateListing([s.Pending("d")]));

    private static readonly DateTime T = new(2016, 1, 1, 12, 0, 0, 500, DateTimeKind.Utc);

    private static SyncState Run(SyncState state, params SyncCommand[] commands)
    {
        foreach (var c in commands)
        {
            var d = state.Decide(c, T);
            Assert.Null(d.Refusal);
            state = d.Events.Aggregate(state, (s, e) => s.Apply(e));
        }

        return state;
    }

    [Fact]
    public void Root_itself_is_named_dot_not_an_empty_string()
    {
        var s = Run(SyncState.Empty, new RequestSync(""));
        Assert.Equal(["Must sync: ."], Listed(s));
        Assert.Equal(".: 1 file(s) failed: a: denied", new BtwBackup.Sync.MirrorException("", ["a: denied"]).Message);
    }

    [Fact]
    public void A_planned_deletion_stays_until_a_sync_that_covers_it_is_done_and_survives_a_snapshot()
    {
        var s = Run(SyncState.Empty, new RequestSync("notes"), new PlanDeletion("notes/2026-11-20T02:30:00.tbz"), new PlanDeletion("www/2026-10-30T02:30:00"),
            new PlanDeletion("notes/2026-11-20T02:30:00.tbz"));
        Assert.Equal(["notes/2026-11-20T02:30:00.tbz", "www/2026-10-30T02:30:00"], s.Planned);
        Assert.Equal(["Must sync: notes", "Must delete (planned): notes/2026-11-20T02:30:00.tbz", "Must delete (planned): www/2026-10-30T02:30:00"], Listed(s));
        Assert.Equal(CannotResetMessage, s.Decide(new ResetState(), T).Refusal);
        Assert.Throws<ArgumentException>(() => s.Decide(new PlanDeletion(""), T));
        Assert.Equal("2016-01-01T12:00:00 +delete www/2026-10-30T02:30:00", SyncHistoryFormat.Line(new DeletionPlanned(T.AddMilliseconds(-500), "www/2026-10-30T02:30:00")));

        // A snapshot written and read back holds them; an old snapshot without the field holds none.
        var serializer = new SyncSerializer((Akka.Actor.ExtendedActorSystem)Akka.Actor.ActorSystem.Create("t"));
        var back = (SyncState)serializer.FromBinary(serializer.ToBinary(s), serializer.Manifest(s));
        Assert.Equal(s, back);
        Assert.Empty(((SyncState)serializer.FromBinary("""{"push":[],"sync":["x"]}"""u8.ToArray(), "sync-state")).Planned);
        var planned = new DeletionPlanned(T, "notes/a.tbz");
        Assert.Equal(planned, serializer.FromBinary(serializer.ToBinary(planned), serializer.Manifest(planned)));

        // An encrypted destination's objects: in events and snapshots, kept by a reset, never pending work.
        var encrypted = new ObjectsEncrypted(T, [new EncryptedObject("www/a", "0123456789abcdef0123456789abcdef", "etag-1", 10), new EncryptedObject("www/b", "fedcba9876543210fedcba9876543210", "etag-2-3", 0)]);
        var removed = new ObjectsRemoved(T, ["www/b"]);
        var withIndex = s.Apply(encrypted).Apply(removed);
        Assert.Equal(["www/a"], withIndex.Encrypted.Keys);
        Assert.Equal(s.IsEmpty, withIndex.IsEmpty);
        var snapshot = (SyncState)serializer.FromBinary(serializer.ToBinary(withIndex), "sync-state");
        Assert.Equal(withIndex.Encrypted, snapshot.Encrypted);
        foreach (SyncEvent e in new SyncEvent[] { encrypted, removed })
        {
            var copy = serializer.FromBinary(serializer.ToBinary(e), serializer.Manifest(e));
            Assert.Equal(SyncHistoryFormat.Line(e), SyncHistoryFormat.Line((SyncEvent)copy));
        }

        Assert.Equal("2016-01-01T12:00:00 encrypted 2 object(s)", SyncHistoryFormat.Line(encrypted));
        Assert.Equal(["www/a"], SyncState.Empty.Apply(encrypted).Apply(new StateReset(T)).Apply(removed).Encrypted.Keys);
        Assert.Equal(2, ((ObjectsEncrypted)serializer.FromBinary(serializer.ToBinary(encrypted), "objects-encrypted")).Objects.Count);

        // The sync of notes covers what was planned under it, not what was planned elsewhere.
        s = Run(s, new CompleteSync("notes"));
        Assert.Equal(["www/2026-10-30T02:30:00"], s.Planned);
        s = Run(s, new RequestSync(""), new CompleteSync(""));
        Assert.True(s.IsEmpty);
    }

    private const string CannotResetMessage = SyncState.CannotReset;

    [Fact]
    public void Requests_become_pending_in_first_request_order_and_completions_clear_them()
    {
        var s = Run(SyncState.Empty, new RequestPush("dst/b"), new RequestPush("dst/a"), new RequestSync("dst/full/"), new RequestPush("dst/b"));
        Assert.Equal(["dst/b", "dst/a"], s.MustPush);
        Assert.Equal(["dst/full/"], s.MustSync);
        Assert.Equal(["Must sync: dst/full/", "Must push: dst/b", "Must push: dst/a"], Listed(s));

        s = Run(s, new CompletePush("dst/b"), new CompleteSync("dst/full/"));
        Assert.Equal(["dst/a"], s.MustPush);
        Assert.Empty(s.MustSync);
        s = Run(s, new CompletePush("dst/a"));
        Assert.True(s.IsEmpty);
    }

    [Fact]
    public void Completing_what_is_not_pending_records_nothing()
    {
        Assert.Empty(SyncState.Empty.Decide(new CompletePush("x"), T).Events);
        Assert.Empty(SyncState.Empty.Decide(new CompleteSync("x/"), T).Events);
    }

    [Fact]
    public void Every_request_is_recorded_even_when_already_pending()
    {
        var s = Run(SyncState.Empty, new RequestPush("a"));
        var again = s.Decide(new RequestPush("a"), T);
        Assert.Equal([new PushRequested(new DateTime(2016, 1, 1, 12, 0, 0, DateTimeKind.Utc), "a")], again.Events);
        Assert.Equal(s, s.Apply(again.Events[0]));
    }

    [Fact]
    public void Reset_is_refused_while_anything_is_pending()
    {
        foreach (var pending in new SyncCommand[] { new RequestPush("a"), new RequestSync("b/") })
        {
            var s = Run(SyncState.Empty, pending);
            var d = s.Decide(new ResetState(), T);
            Assert.Equal("cannot reset: some files must be synced or pushed", d.Refusal);
            Assert.Empty(d.Events);
        }

        var ok = SyncState.Empty.Decide(new ResetState(), T);
        Assert.Null(ok.Refusal);
        Assert.IsType<StateReset>(Assert.Single(ok.Events));
    }

    [Fact]
    public void Absolute_or_escaping_paths_are_refused()
    {
        Assert.Throws<ArgumentException>(() => SyncState.Empty.Decide(new RequestPush("/etc/passwd"), T));
        Assert.Throws<ArgumentException>(() => SyncState.Empty.Decide(new RequestSync("a/../../b"), T));
    }

    [Fact]
    public void Replay_of_the_events_gives_the_same_state()
    {
        var events = new List<SyncEvent>();
        var s = SyncState.Empty;
        foreach (var c in new SyncCommand[] { new RequestPush("a"), new RequestSync("s/"), new CompletePush("a"), new RequestPush("b"), new CompleteSync("s/"), new RequestSync("t/") })
        {
            var d = s.Decide(c, T);
            events.AddRange(d.Events);
            s = d.Events.Aggregate(s, (x, e) => x.Apply(e));
        }

        Assert.Equal(s, SyncState.Replay(events));
        Assert.Equal(["b"], s.MustPush);
        Assert.Equal(["t/"], s.MustSync);
        Assert.Equal(SyncState.Empty, SyncState.Replay(events.Append(new PushDone(T, "b")).Append(new SyncDone(T, "t/")).Append(new StateReset(T))));
    }

    [Theory]
    [InlineData("2016-01-01T12:00:00 +push dst/a")]
    [InlineData("2016-01-01T12:00:00 -push dst/a")]
    [InlineData("2016-01-01T12:00:00 +sync dst/2016-01-01T11:00:00/")]
    [InlineData("2016-01-01T12:00:00 -sync dst/with space/")]
    [InlineData("2016-01-01T12:00:00 reset")]
    public void History_lines_round_trip_in_the_original_format(string line)
    {
        var e = SyncHistoryFormat.Parse(line);
        Assert.NotNull(e);
        Assert.Equal(line, SyncHistoryFormat.Line(e));
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("2016-01-01 +push a")]
    [InlineData("2016-01-01T12:00:00 *push a")]
    public void Lines_that_are_not_history_are_not_parsed(string line) => Assert.Null(SyncHistoryFormat.Parse(line));
}
