using Akka.Actor;
using System.Text.Json;
using Akka.TestKit.Xunit2;
using BtwBackup.Actors;
using BtwBackup.Protocol;
using Xunit;

namespace BtwBackup.Tests.Actors;

/// <summary>The owner of status.json, alone: what it keeps, what it writes, and when it says a round is saved.</summary>
public sealed class StatusKeeperSpec() : TestKit(SerializedMessages.Config), IDisposable
{
    private static readonly DateTime Noon = new(2026, 12, 3, 12, 0, 0, DateTimeKind.Utc);
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-keeper-").FullName;

    private string FilePath => Path.Combine(_dir, StatusFile.FileName);

    private static SourceRun Run(string result, string? error = null) => new(result, "2026-12-03T12:00:00", error, Noon, 1.5, 10);

    [Fact]
    public void It_applies_each_change_and_a_saved_round_is_on_disk_when_the_keeper_says_so()
    {
        var keeper = Sys.ActorOf(StatusKeeper.Props(new StatusFile(FilePath)));

        keeper.Tell(new SourceStarted("www", "rdiff", "www"));
        keeper.Tell(new SourceEnded("www", Run("full")));
        keeper.Tell(new SourceEnded("www", Run(SourceRun.Failed, "the disk is full")));
        keeper.Tell(new DestinationsSynced([new DestinationSync("s3", []), new DestinationSync("b2", ["b2: timed out", "b2: refused"])], Noon, Ack: 7));

        Assert.Equal(7, ExpectMsg<StatusSaved>().Ack);
        // The reply to a command leaves on this ack: the file must already hold the round.
        var written = new StatusFile(FilePath).Load();
        Assert.Equal(Noon, written.Destinations["s3"].LastSync);
        Assert.Equal("b2: timed out (and 1 more)", written.Destinations["b2"].LastError);
        var www = written.Sources["www"];
        Assert.Equal((SourceRun.Failed, 1, "the disk is full", "rdiff", "www"), (www.Last!.Result, www.Restarts, www.LastFailure, www.Type, www.Dst));

        keeper.Tell(new GetStatus());
        var snapshot = ExpectMsg<StatusSnapshot>();
        Assert.Null(snapshot.Unreadable);
        Assert.Equal(1, snapshot.Status.Sources["www"].Restarts);
    }

    [Fact]
    public void A_round_without_destinations_is_acknowledged_after_the_writes_before_it_without_writing_again()
    {
        var keeper = Sys.ActorOf(StatusKeeper.Props(new StatusFile(FilePath)));
        keeper.Tell(new SourceEnded("www", Run("full")));
        keeper.Tell(new DestinationsSynced([], Noon, Ack: 1));
        Assert.Equal(1, ExpectMsg<StatusSaved>().Ack);
        Assert.Equal("full", new StatusFile(FilePath).Load().Sources["www"].Last!.Result);
        var written = BtwBackup.Platform.FileStamp.Of(FilePath);
        Assert.NotNull(written);

        keeper.Tell(new DestinationsSynced([], Noon, Ack: 2));
        Assert.Equal(2, ExpectMsg<StatusSaved>().Ack);
        Assert.Equal(written, BtwBackup.Platform.FileStamp.Of(FilePath));

        // A round with a destination is a change: written (a new file renamed over the old one).
        keeper.Tell(new DestinationsSynced([new DestinationSync("s3", [])], Noon, Ack: 3));
        Assert.Equal(3, ExpectMsg<StatusSaved>().Ack);
        Assert.NotEqual(written, BtwBackup.Platform.FileStamp.Of(FilePath));
        Assert.Equal(Noon, new StatusFile(FilePath).Load().Destinations["s3"].LastSync);
    }

    [Fact]
    public void A_round_without_destinations_writes_what_an_earlier_write_failed_to()
    {
        // A directory where the keeper writes its next file: every write fails until it goes.
        var blocker = Directory.CreateDirectory(FilePath + ".partial");
        var keeper = Sys.ActorOf(StatusKeeper.Props(new StatusFile(FilePath)));
        keeper.Tell(new SourceEnded("www", Run("full")));
        keeper.Tell(new DestinationsSynced([], Noon, Ack: 1));
        Assert.Equal(1, ExpectMsg<StatusSaved>().Ack);
        Assert.False(File.Exists(FilePath));

        blocker.Delete();
        keeper.Tell(new DestinationsSynced([], Noon, Ack: 2));
        Assert.Equal(2, ExpectMsg<StatusSaved>().Ack);
        Assert.Equal("full", new StatusFile(FilePath).Load().Sources["www"].Last!.Result);
    }

    [Fact]
    public void A_restarted_keeper_starts_from_the_file()
    {
        var first = Sys.ActorOf(StatusKeeper.Props(new StatusFile(FilePath)));
        first.Tell(new SourceEnded("db", Run("increment")));
        first.Tell(new DestinationsSynced([], Noon, Ack: 1));
        ExpectMsg<StatusSaved>();

        var second = Sys.ActorOf(StatusKeeper.Props(new StatusFile(FilePath)));
        second.Tell(new GetStatus());

        Assert.Equal("increment", ExpectMsg<StatusSnapshot>().Status.Sources["db"].Last!.Result);
    }

    [Fact]
    public void A_file_it_cannot_read_is_named_rather_than_shown_as_never_backed_up()
    {
        File.WriteAllText(FilePath, "{ not json");
        var keeper = Sys.ActorOf(StatusKeeper.Props(new StatusFile(FilePath)));

        keeper.Tell(new GetStatus());

        var snapshot = ExpectMsg<StatusSnapshot>();
        var aside = Assert.Single(Directory.GetFiles(_dir, StatusFile.FileName + ".unreadable-*"));
        Assert.Equal($"cannot read {FilePath}: it is not the JSON btw-backup writes (set aside as {Path.GetFileName(aside)})", snapshot.Unreadable);
        Assert.Empty(snapshot.Status.Sources);

        // What it held is kept as it was; the next change starts a new file.
        Assert.Equal("{ not json", File.ReadAllText(aside));
        keeper.Tell(new DestinationsSynced([new DestinationSync("s3", [])], Noon, Ack: 1));
        Assert.Equal(1, ExpectMsg<StatusSaved>().Ack);
        Assert.Equal(Noon, new StatusFile(FilePath).Load().Destinations["s3"].LastSync);
        Assert.Equal("{ not json", File.ReadAllText(aside));
    }

    [Fact]
    public void A_file_it_cannot_write_still_acknowledges_the_round_and_keeps_the_status_in_memory()
    {
        var unwritable = Path.Combine(_dir, "gone", StatusFile.FileName);
        var keeper = Sys.ActorOf(StatusKeeper.Props(new StatusFile(unwritable)));

        keeper.Tell(new DestinationsSynced([new DestinationSync("s3", [])], Noon, Ack: 3));

        Assert.Equal(3, ExpectMsg<StatusSaved>().Ack);
        Assert.False(File.Exists(unwritable));
        keeper.Tell(new GetStatus());
        Assert.Equal(Noon, ExpectMsg<StatusSnapshot>().Status.Destinations["s3"].LastSync);
    }

    /// <summary>Records compare their dictionaries by reference: compare what status.json would hold.</summary>
    private static string Json(PersistedStatus status) => JsonSerializer.Serialize(status, SummaryFormat.Json);

    [Fact]
    public void Apply_is_the_pure_functions_of_the_status()
    {
        var started = PersistedStatus.Empty.Apply(new SourceStarted("www", "tar", "www"));
        Assert.Equal(Json(PersistedStatus.Empty.Started("www", "tar", "www")), Json(started));
        Assert.Equal(Json(started.Completed("www", Run("full"))), Json(started.Apply(new SourceEnded("www", Run("full")))));
        Assert.Equal(Json(started.Failed("www", Run(SourceRun.Failed, "x"))), Json(started.Apply(new SourceEnded("www", Run(SourceRun.Failed, "x")))));
        Assert.Equal(Json(started.Synced("a", [], Noon).Synced("b", ["e"], Noon)),
            Json(started.Apply(new DestinationsSynced([new DestinationSync("a", []), new DestinationSync("b", ["e"])], Noon, 0))));
        Assert.NotEqual(Json(started), Json(started.Apply(new SourceEnded("www", Run("full")))));
    }

    void IDisposable.Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        Dispose();
    }
}
