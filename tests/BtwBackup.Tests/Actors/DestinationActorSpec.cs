using Akka.Actor;
using Akka.TestKit.Xunit2;
using BtwBackup.Actors;
using BtwBackup.Backup;
using BtwBackup.Hosting;
using BtwBackup.ObjectStore;
using BtwBackup.Protocol;
using BtwBackup.Sync;
using BtwBackup.Testing;
using Xunit;

namespace BtwBackup.Tests.Actors;

/// <summary>
/// The persistent DestinationActor on a real SQLite journal, with the in-memory store. The one
/// actor spec without serialize-messages: Akka.Persistence.Sql's journal tells itself a message
/// that holds a task (WriteFinished), which Akka.NET would verify and refuse, and Akka.NET has no
/// setting to exempt a library's internal messages. The DestinationActor's own messages are
/// round-tripped in MessageSerializerSpec and cross the serializer in DestinationsSpec.
/// </summary>
public class DestinationActorSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-dest-").FullName;
    private readonly string _root;
    private readonly InMemoryObjectStore _store = new();

    // A first write creates the journal's tables; on a loaded CI machine that takes seconds.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    public DestinationActorSpec()
    {
        _root = Directory.CreateDirectory(Path.Combine(_dir, "root")).FullName;
        Directory.CreateDirectory(Path.Combine(_root, "www", "2016-01-01T00:00:00"));
        File.WriteAllText(Path.Combine(_root, "www", "2016-01-01T00:00:00", "backup.tar"), "tar v1");
        File.WriteAllText(Path.Combine(_root, "www", "log.txt"), "log\n");
    }

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    private TestKit NewSystem() => new(Journal(Path.Combine(_dir, "journal.db")));

    /// <summary>The journal on <paramref name="file"/> these tests run on: the plugin's here, the CLI's in <see cref="DestinationActorOnFileJournalSpec"/>.</summary>
    protected virtual Akka.Configuration.Config Journal(string file, bool pooling = true) => PersistenceConfig.ForSqlite(file, pooling);

    private IActorRef Destination(TestKit kit, string? legacy = null) =>
        kit.Sys.ActorOf(DestinationActor.Props(new DestinationOptions("offsite", new Mirror(_store, _root, "pre/", 4), TimeSpan.FromDays(90), LegacyStateFile: legacy)));

    [Fact]
    public void Pending_work_survives_the_actor_system_and_is_done_by_the_next_one()
    {
        var first = NewSystem();
        var dest = Destination(first);
        dest.Tell(new RecordPending(1, [new PendingPath("www/2016-01-01T00:00:00/", Sync: true), new PendingPath("www/log.txt", Sync: false)]), first.TestActor);
        first.ExpectMsg<PendingRecorded>(r => r.Correlation == 1, Patience);
        // Torn down before any transfer: as a kill after the acknowledgement.
        first.Shutdown();

        var second = NewSystem();
        dest = Destination(second);
        dest.Tell(new GetSyncState(2), second.TestActor);
        var state = second.ExpectMsg<SyncStateReport>(Patience).State;
        Assert.Equal(["www/log.txt"], state.MustPush);
        Assert.Equal(["www/2016-01-01T00:00:00/"], state.MustSync);

        dest.Tell(new RunSync(3), second.TestActor);
        var finished = second.ExpectMsg<SyncFinished>(Patience);
        Assert.Empty(finished.Failures);
        Assert.True(finished.Pending.IsEmpty);
        Assert.Equal(2, finished.Report.Uploaded);
        Assert.Equal(["pre/www/2016-01-01T00:00:00/backup.tar", "pre/www/log.txt"], _store.Objects.Keys.Order(StringComparer.Ordinal));
        second.Shutdown();

        var third = NewSystem();
        dest = Destination(third);
        dest.Tell(new GetSyncState(4), third.TestActor);
        Assert.True(third.ExpectMsg<SyncStateReport>(Patience).State.IsEmpty);
        third.Shutdown();
    }

    /// <summary>
    /// sync-state --list and --history without a daemon read the journal file's rows themselves
    /// (<see cref="SyncJournalFile"/>): what they read must be what the plugin recovers and what
    /// its query gives, from a journal with snapshots, with the events they cover deleted (a
    /// history window of 0) or kept, and work left pending.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(90)]
    public async Task The_journal_file_read_without_actors_gives_what_the_recovery_and_the_query_give(int historyDays)
    {
        var file = Path.Combine(_dir, "journal.db");
        var kit = new TestKit(Journal(file, pooling: false));
        var dest = kit.Sys.ActorOf(DestinationActor.Props(new DestinationOptions("offsite", new Mirror(_store, _root, "pre/", 4), TimeSpan.FromDays(historyDays), SnapshotEvery: 3)));
        for (var round = 0; round < 4; round++)
        {
            File.WriteAllText(Path.Combine(_root, "www", "log.txt"), $"log {round}\n");
            dest.Tell(new RecordPending(round, [new PendingPath("www/log.txt", Sync: false), new PendingPath("www/", Sync: true)]), kit.TestActor);
            kit.ExpectMsg<PendingRecorded>(Patience);
            dest.Tell(new RunSync(round), kit.TestActor);
            Assert.Empty(kit.ExpectMsg<SyncFinished>(Patience).Failures);
        }

        _store.Fault = (op, key) => op == "put" ? throw new ObjectStoreException("put: 500 InternalError", transient: false) : Task.CompletedTask;
        File.WriteAllText(Path.Combine(_root, "www", "log.txt"), "log 4\n");
        dest.Tell(new RecordPending(4, [new PendingPath("www/log.txt", Sync: false), new PendingPath("www/", Sync: true)]), kit.TestActor);
        kit.ExpectMsg<PendingRecorded>(Patience);
        dest.Tell(new RunSync(4), kit.TestActor);
        Assert.NotEmpty(kit.ExpectMsg<SyncFinished>(Patience).Failures);

        var id = SyncIds.Of(null, "offsite");
        var recovered = await SyncStateReading.ReadAsync(kit.Sys, id, Patience);
        var queried = await SyncHistory.ReadAsync(kit.Sys, id, null);
        var serializer = kit.Sys.Serialization.FindSerializerFor(recovered.State);
        kit.Shutdown();

        var read = SyncJournalFile.Read(file, id, events: true);
        Assert.NotNull(read);
        Assert.Equal(["www/log.txt"], read.State.MustPush);
        Assert.Equal(["www/"], read.State.MustSync);
        Assert.Equal(serializer.ToBinary(recovered.State), serializer.ToBinary(read.State));
        Assert.Equal(queried, SyncHistory.Lines(read.Events, null));
        Assert.Equal(serializer.ToBinary(recovered.State), serializer.ToBinary(SyncJournalFile.Read(file, id, events: false)!.State));
        Assert.Null(SyncJournalFile.Read(file, SyncIds.Of(null, "elsewhere"), events: true));

        // The scenario has what it claims: snapshots, and events deleted only with a window of 0.
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + file + ";Pooling=False");
        connection.Open();
        using var count = connection.CreateCommand();
        count.CommandText = "select count(*) from snapshot";
        Assert.True((long)count.ExecuteScalar()! > 0);
        if (historyDays == 0)
            Assert.True(read.Events.Count < recovered.LastSequenceNr, $"{read.Events.Count} events of {recovered.LastSequenceNr} left");
        else
            Assert.Equal(recovered.LastSequenceNr, read.Events.Count);
    }

    /// <summary>
    /// sync --full without a daemon journals the sync of root into the file itself before its
    /// actors start (SyncJournalFile.RecordSyncOfRoot): after snapshots and deleted events, the
    /// plugin recovers that row as the actor's own, the actor journals nothing more for the same
    /// request and goes on with the next sequence numbers, and the history shows the request once.
    /// Where the file has no row of a destination, nothing is written.
    /// </summary>
    [Fact]
    public async Task A_sync_of_root_journaled_from_the_file_is_recovered_and_the_actor_goes_on_after_it()
    {
        var file = Path.Combine(_dir, PersistenceConfig.FileName);
        Assert.False(SyncJournalFile.RecordSyncOfRoot(JournalSettings(), DateTime.UtcNow));
        var options = new DestinationOptions("offsite", new Mirror(_store, _root, "pre/", 4), TimeSpan.Zero, SnapshotEvery: 3);
        var kit = new TestKit(Journal(file, pooling: false));
        var dest = kit.Sys.ActorOf(DestinationActor.Props(options));
        for (var round = 0; round < 4; round++)
        {
            File.WriteAllText(Path.Combine(_root, "www", "log.txt"), $"log {round}\n");
            dest.Tell(new RecordPending(round, [new PendingPath("www/log.txt", Sync: false)]), kit.TestActor);
            kit.ExpectMsg<PendingRecorded>(Patience);
            dest.Tell(new RunSync(round), kit.TestActor);
            Assert.Empty(kit.ExpectMsg<SyncFinished>(Patience).Failures);
        }

        var before = (await SyncStateReading.ReadAsync(kit.Sys, SyncIds.Of(null, "offsite"), Patience)).LastSequenceNr;
        kit.Shutdown();

        var at = new DateTime(2026, 12, 7, 10, 0, 0, DateTimeKind.Utc);
        Assert.True(SyncJournalFile.RecordSyncOfRoot(JournalSettings(), at));
        Assert.Equal([""], SyncJournalFile.Read(file, SyncIds.Of(null, "offsite"), events: false)!.State.MustSync);

        var next = new TestKit(Journal(file, pooling: false));
        dest = next.Sys.ActorOf(DestinationActor.Props(options));
        dest.Tell(new GetSyncState(10), next.TestActor);
        Assert.Equal([""], next.ExpectMsg<SyncStateReport>(Patience).State.MustSync);
        dest.Tell(new RecordPending(11, [new PendingPath("", Sync: true)]), next.TestActor);
        next.ExpectMsg<PendingRecorded>(Patience);
        dest.Tell(new RunSync(11), next.TestActor);
        Assert.Empty(next.ExpectMsg<SyncFinished>(Patience).Failures);
        dest.Tell(new GetSyncState(12), next.TestActor);
        Assert.True(next.ExpectMsg<SyncStateReport>(Patience).State.IsEmpty);
        var recovered = await SyncStateReading.ReadAsync(next.Sys, SyncIds.Of(null, "offsite"), Patience);
        var history = await SyncHistory.ReadAsync(next.Sys, SyncIds.Of(null, "offsite"), at);
        next.Shutdown();

        // The row written from the file, then the actor's completion of it: two numbers more, nothing in between.
        Assert.Equal(before + 2, recovered.LastSequenceNr);
        Assert.True(recovered.State.IsEmpty);
        Assert.Equal(1, history.Count(l => l.EndsWith(" +sync ", StringComparison.Ordinal)));
        Assert.Equal(1, history.Count(l => l.EndsWith(" -sync ", StringComparison.Ordinal)));
        Assert.Equal(["pre/www/2016-01-01T00:00:00/backup.tar", "pre/www/log.txt"], _store.Objects.Keys.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// The plugin makes its tables only where one is missing (its own check cost a tenth of a
    /// second of every start): a new file, a file where one was dropped, a file that is not a
    /// database. A system that finds them all recovers, persists and snapshots as the first did.
    /// </summary>
    [Fact]
    public void The_journal_tables_are_made_where_one_is_missing_and_used_as_they_are_otherwise()
    {
        var file = Path.Combine(_dir, "tables.db");
        static bool Initializes(string file) =>
            PersistenceConfig.ForSqlite(file, pooling: false).GetBoolean("akka.persistence.journal.sql.auto-initialize")
            && PersistenceConfig.ForSqlite(file, pooling: false).GetBoolean("akka.persistence.snapshot-store.sql.auto-initialize");
        var options = new DestinationOptions("offsite", new Mirror(_store, _root, "pre/", 4), TimeSpan.Zero, SnapshotEvery: 2);
        void Round(int round, bool initializes)
        {
            Assert.Equal(initializes, Initializes(file));
            var kit = new TestKit(PersistenceConfig.ForSqlite(file, pooling: false));
            var dest = kit.Sys.ActorOf(DestinationActor.Props(options));
            dest.Tell(new GetSyncState(round), kit.TestActor);
            Assert.Equal(round == 0 ? [] : ["www/log.txt"], kit.ExpectMsg<SyncStateReport>(Patience).State.MustPush);
            File.WriteAllText(Path.Combine(_root, "www", "log.txt"), $"log {round}\n");
            for (var i = 0; i < 3; i++)
            {
                dest.Tell(new RecordPending(i, [new PendingPath("www/log.txt", Sync: false)]), kit.TestActor);
                kit.ExpectMsg<PendingRecorded>(Patience);
            }

            kit.Shutdown();
        }

        Round(0, initializes: true);
        Round(1, initializes: false);
        void Drop(string what)
        {
            using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Pooling=False");
            connection.Open();
            using var drop = connection.CreateCommand();
            drop.CommandText = "drop " + what;
            drop.ExecuteNonQuery();
        }

        // Every table and index the plugin made is one the check asks for.
        Assert.All(PersistenceConfig.SqliteSchema, name => Assert.True(SqliteObjectExists(file, name), name));
        Drop("table snapshot");
        Round(2, initializes: true);
        Round(3, initializes: false);
        // The unique index alone missing (a run stopped between its table and it): made again too.
        Drop("index journal_uq");
        Round(4, initializes: true);
        Assert.True(SqliteObjectExists(file, "journal_uq"));
        Round(5, initializes: false);
        File.WriteAllText(Path.Combine(_dir, "not-a-database.db"), "not sqlite");
        Assert.True(Initializes(Path.Combine(_dir, "not-a-database.db")));
    }

    private static bool SqliteObjectExists(string file, string name)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var find = connection.CreateCommand();
        find.CommandText = "select count(*) from sqlite_master where name = $name";
        find.Parameters.AddWithValue("$name", name);
        return (long)find.ExecuteScalar()! == 1;
    }

    /// <summary>
    /// A damaged row (a payload that is JSON but not a sync event, or not JSON at all) is a
    /// SerializationException naming what is damaged, never a NullReferenceException: the reader
    /// gives up (null) and the actors then report the journal their way.
    /// </summary>
    /// <summary>A row of an event this version does not write, or an empty one, is damaged the same way: named, with the way back.</summary>
    [Theory]
    [InlineData("{\"at\":\"2016-01-01T00:00:00Z\"}", "no-such-event")]
    [InlineData("null", "sync-done")]
    public void An_unknown_or_empty_journal_row_is_damaged_with_the_way_back(string payload, string manifest)
    {
        var error = Assert.Throws<SyncJournalDamagedException>(() => SyncSerializer.Decode(System.Text.Encoding.UTF8.GetBytes(payload), manifest));
        Assert.StartsWith($"a damaged {manifest} in the sync-state journal (", error.Message);
        Assert.Contains(" run btw-backup sync --full,", error.Message);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"paths\":[{}]}")]
    [InlineData("not json")]
    public void A_damaged_journal_row_is_named_and_the_file_reader_gives_up(string payload)
    {
        var file = DamagedJournal(System.Text.Encoding.UTF8.GetBytes(payload));
        var error = Assert.Throws<SyncJournalDamagedException>(() => SyncJournalFile.Read(file, SyncIds.Of(null, "offsite"), events: true));
        Assert.StartsWith("a damaged ", error.Message);
        // Said as it is, with the way back, never as an unexpected error.
        Assert.EndsWith(": move the journal aside (sync-state.db in the configuration directory, or its tables in PostgreSQL) and run btw-backup sync --full, which compares every file with the destinations and starts a new state", error.Message);
        Assert.Equal([ErrorReport.Prefix + error.Message], ErrorReport.Lines(error));
        Assert.Null(SyncJournalFile.ReadAll(JournalSettings(), events: true));
    }

    /// <summary>A payload stored as text where the plugin writes bytes (the schema forbids NULL): the reader gives up too, not on a cast error.</summary>
    [Fact]
    public void A_journal_row_that_is_not_bytes_is_named_and_the_file_reader_gives_up()
    {
        var file = DamagedJournal("text, not bytes");
        Assert.Throws<InvalidDataException>(() => SyncJournalFile.Read(file, SyncIds.Of(null, "offsite"), events: true));
        Assert.Null(SyncJournalFile.ReadAll(JournalSettings(), events: true));
    }

    /// <summary>
    /// A serializer id beyond what the plugin reads (an Int32): the file reader gives up (the
    /// actors then say what they can), and the history's query names the damaged row with the way
    /// back, not an "unexpected error" on an arithmetic overflow.
    /// </summary>
    [Fact]
    public async Task A_journal_row_with_a_serializer_id_out_of_range_is_damaged_not_an_overflow()
    {
        var file = DamagedJournal(1L << 40, column: "identifier");
        Assert.Null(SyncJournalFile.ReadAll(JournalSettings(), events: true));
        Assert.Null(SyncJournalFile.ReadAll(JournalSettings(), events: false));

        var kit = new TestKit(Journal(file, pooling: false));
        try
        {
            var error = await Assert.ThrowsAsync<SyncJournalDamagedException>(() => SyncHistory.ReadAsync(kit.Sys, SyncIds.Of(null, "offsite"), null));
            Assert.StartsWith("a damaged row in the sync-state journal (", error.Message);
        }
        finally
        {
            kit.Shutdown();
        }
    }

    /// <summary>A journal file of one pending path, whose every event payload is then replaced by <paramref name="payload"/>.</summary>
    private string DamagedJournal(object payload, string column = "message")
    {
        var file = Path.Combine(_dir, PersistenceConfig.FileName);
        var kit = new TestKit(Journal(file, pooling: false));
        var dest = Destination(kit);
        dest.Tell(new RecordPending(1, [new PendingPath("www/log.txt", Sync: false)]), kit.TestActor);
        kit.ExpectMsg<PendingRecorded>(Patience);
        kit.Shutdown();
        Assert.Equal(["www/log.txt"], SyncJournalFile.Read(file, SyncIds.Of(null, "offsite"), events: true)!.State.MustPush);

        using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + file + ";Pooling=False");
        connection.Open();
        using var damage = connection.CreateCommand();
        damage.CommandText = $"update journal set {column} = $payload";
        damage.Parameters.AddWithValue("$payload", payload);
        Assert.True(damage.ExecuteNonQuery() > 0);
        return file;
    }

    /// <summary>Settings whose journal file is the one <see cref="DamagedJournal"/> writes, with its one destination.</summary>
    private BtwBackup.Config.GeneralSettings JournalSettings() =>
        new(_dir, _root, BtwBackup.Config.SeriesPolicy.Default, Path.Combine(_dir, "log"), "INFO", TimeSpan.Zero, "test")
        {
            Destinations = [new("offsite", "s3://bucket/pre/", "pre/", new S3Connection("bucket", "http://127.0.0.1:9", null, "AK", "SK", true))],
        };

    [Fact]
    public void A_sync_whose_deletions_are_held_back_stays_pending_with_one_line_until_allowed()
    {
        var kit = NewSystem();
        var dest = Destination(kit);
        dest.Tell(new RecordPending(1, [new PendingPath("", Sync: true)]), kit.TestActor);
        kit.ExpectMsg<PendingRecorded>(Patience);
        dest.Tell(new RunSync(2), kit.TestActor);
        Assert.Empty(kit.ExpectMsg<SyncFinished>(Patience).Failures);

        // The series folder is gone from root: its objects stay, and so does the pending sync.
        Directory.Delete(Path.Combine(_root, "www", "2016-01-01T00:00:00"), recursive: true);
        Directory.CreateDirectory(Path.Combine(_root, "db"));
        File.WriteAllText(Path.Combine(_root, "db", "log.txt"), "db\n");
        Directory.Delete(Path.Combine(_root, "www"), recursive: true);
        dest.Tell(new RecordPending(3, [new PendingPath("", Sync: true)]), kit.TestActor);
        kit.ExpectMsg<PendingRecorded>(Patience);
        dest.Tell(new RunSync(4), kit.TestActor);
        var refused = kit.ExpectMsg<SyncFinished>(Patience);
        Assert.Equal(["offsite: nothing deleted: root does not hold the series www (2 object(s)) that the destination holds: a sync never deletes a whole series; sync --allow-deletes if it was removed on purpose; the sync stays pending"],
            refused.Failures);
        Assert.Equal([""], refused.Pending.MustSync);
        Assert.Equal(["pre/db/log.txt", "pre/www/2016-01-01T00:00:00/backup.tar", "pre/www/log.txt"], _store.Objects.Keys.Order(StringComparer.Ordinal));

        dest.Tell(new RunSync(5, AllowDeletes: true), kit.TestActor);
        var allowed = kit.ExpectMsg<SyncFinished>(Patience);
        Assert.Empty(allowed.Failures);
        Assert.True(allowed.Pending.IsEmpty);
        Assert.Equal(2, allowed.Report.Deleted);
        Assert.Equal(["pre/db/log.txt"], _store.Objects.Keys);
    }

    [Fact]
    public void A_failed_path_stays_pending_with_one_line_and_the_others_are_done()
    {
        var kit = NewSystem();
        _store.Fault = (op, key) => op == "put" && key.EndsWith("log.txt", StringComparison.Ordinal) ? throw new ObjectStoreException("put: 500 InternalError", transient: false) : Task.CompletedTask;
        var dest = Destination(kit);
        dest.Tell(new RecordPending(1, [new PendingPath("www/log.txt", false), new PendingPath("www/2016-01-01T00:00:00/", true)]), kit.TestActor);
        kit.ExpectMsg<PendingRecorded>(Patience);
        dest.Tell(new RunSync(2), kit.TestActor);
        var finished = kit.ExpectMsg<SyncFinished>(Patience);
        Assert.Equal(["push of www/log.txt to offsite failed: www/log.txt: 1 file(s) failed: www/log.txt: put: 500 InternalError"], finished.Failures);
        Assert.Equal(["www/log.txt"], finished.Pending.MustPush);
        Assert.Empty(finished.Pending.MustSync);

        dest.Tell(new ResetSyncState(3), kit.TestActor);
        Assert.Equal("cannot reset: some files must be synced or pushed", kit.ExpectMsg<ResetDone>(Patience).Refusal);
        _store.Fault = null;
        dest.Tell(new RunSync(4), kit.TestActor);
        Assert.True(kit.ExpectMsg<SyncFinished>(Patience).Pending.IsEmpty);
        dest.Tell(new ResetSyncState(5), kit.TestActor);
        Assert.Null(kit.ExpectMsg<ResetDone>(Patience).Refusal);
        kit.Shutdown();
    }

    [Fact]
    public void A_failed_sync_of_root_names_root_as_dot()
    {
        var kit = NewSystem();
        _store.Fault = (op, key) => op == "put" && key.EndsWith("log.txt", StringComparison.Ordinal) ? throw new ObjectStoreException("put: 500 InternalError", transient: false) : Task.CompletedTask;
        var dest = Destination(kit);
        dest.Tell(new RecordPending(1, [new PendingPath("", true)]), kit.TestActor);
        kit.ExpectMsg<PendingRecorded>(Patience);
        dest.Tell(new RunSync(2), kit.TestActor);
        var finished = kit.ExpectMsg<SyncFinished>(Patience);
        Assert.Equal(["sync of . to offsite failed: .: 1 file(s) failed: www/log.txt: put: 500 InternalError"], finished.Failures);
        Assert.Equal(["Must sync: ."], BtwBackup.Cli.Rendering.Lines(new SyncStateListing([finished.Pending.Pending("d")])));
        kit.Shutdown();
    }

    [Fact]
    public void A_journal_failure_stops_the_actor_and_its_backoff_supervisor_brings_it_back()
    {
        var journal = Path.Combine(_dir, "failing.db");
        var kit = new TestKit(Journal(journal, pooling: false));
        var options = new DestinationOptions("offsite", new Mirror(_store, _root, "pre/", 4), TimeSpan.FromDays(90));
        var supervisor = kit.Sys.ActorOf(Akka.Pattern.BackoffSupervisor.Props(Akka.Pattern.Backoff.OnStop(
            DestinationActor.Props(options), "destination", TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), 0.1, maxNrOfRetries: -1)));

        supervisor.Tell(new RecordPending(1, [new PendingPath("www/log.txt", false)]), kit.TestActor);
        kit.ExpectMsg<PendingRecorded>(Patience);

        // The journal goes away: the write fails, the actor stops, nothing is acknowledged.
        File.Move(journal, journal + ".away");
        Directory.CreateDirectory(journal);
        supervisor.Tell(new RecordPending(2, [new PendingPath("www/other", false)]), kit.TestActor);
        kit.ExpectNoMsg(TimeSpan.FromSeconds(2));

        // It comes back: the supervisor restarts the actor, which recovers what was persisted.
        Directory.Delete(journal);
        File.Move(journal + ".away", journal);
        kit.AwaitAssert(() =>
        {
            supervisor.Tell(new GetSyncState(3), kit.TestActor);
            Assert.Equal(["www/log.txt"], kit.ExpectMsg<SyncStateReport>(TimeSpan.FromSeconds(1)).State.MustPush);
        }, Patience, TimeSpan.FromMilliseconds(300));
        supervisor.Tell(new RecordPending(4, [new PendingPath("www/other", false)]), kit.TestActor);
        kit.ExpectMsg<PendingRecorded>(r => r.Correlation == 4, Patience);
        kit.Shutdown();
    }

    [Fact]
    public async Task Snapshots_let_old_events_go_while_the_state_survives()
    {
        var kit = NewSystem();
        var options = new DestinationOptions("offsite", new Mirror(_store, _root, "pre/", 4), HistoryWindow: TimeSpan.Zero, SnapshotEvery: 3);
        var dest = kit.Sys.ActorOf(DestinationActor.Props(options));
        foreach (var n in new[] { 1, 2, 3, 4 })
        {
            dest.Tell(new RecordPending(n, [new PendingPath($"p{n}", false)]), kit.TestActor);
            kit.ExpectMsg<PendingRecorded>(Patience);
        }

        // The snapshot after the third event covers events 1-3, older than a zero window: deleted.
        await kit.AwaitAssertAsync(async () =>
            Assert.Equal(["p4"], (await SyncHistory.ReadAsync(kit.Sys, "destination-offsite", null)).Select(l => l.Split(' ')[^1])),
            Patience, TimeSpan.FromMilliseconds(200));
        kit.Shutdown();

        var again = NewSystem();
        dest = again.Sys.ActorOf(DestinationActor.Props(options));
        dest.Tell(new GetSyncState(5), again.TestActor);
        Assert.Equal(["p1", "p2", "p3", "p4"], again.ExpectMsg<SyncStateReport>(Patience).State.MustPush);
        again.Shutdown();
    }

    [Fact]
    public void The_original_sync_state_file_is_imported_once_and_set_aside()
    {
        var legacy = Path.Combine(_dir, "sync_state");
        File.WriteAllLines(legacy,
        [
            "2016-01-01T12:00:00 +push www/log.txt",
            "2016-01-01T12:00:01 -push www/log.txt",
            "2016-01-01T12:00:02 +sync www/2016-01-01T00:00:00/",
        ]);
        var kit = NewSystem();
        var dest = Destination(kit, legacy);
        dest.Tell(new GetSyncState(1), kit.TestActor);
        var state = kit.ExpectMsg<SyncStateReport>(Patience).State;
        Assert.Equal(["www/2016-01-01T00:00:00/"], state.MustSync);
        Assert.Empty(state.MustPush);
        Assert.False(File.Exists(legacy));
        Assert.True(File.Exists(legacy + ".imported"));
        kit.Shutdown();
    }

    /// <summary>
    /// A node that joins a cluster: its destination's state moves from destination-NAME to
    /// sync/HOST/NAME in the same journal, and one whose journal moves to PostgreSQL takes its
    /// state from its own SQLite file; either way its pending paths come along, once.
    /// </summary>
    [Fact]
    public async Task Pending_paths_kept_under_a_former_id_or_in_a_former_journal_are_taken_over_once()
    {
        var single = NewSystem();
        var dest = Destination(single);
        dest.Tell(new RecordPending(1, [new PendingPath("www/log.txt", Sync: false), new PendingPath("www/", Sync: true)]), single.TestActor);
        single.ExpectMsg<PendingRecorded>(Patience);
        single.Shutdown();

        // The same journal, the cluster's id: the former one's pending paths are taken over, and the former is left as it was.
        var clustered = NewSystem();
        var options = new DestinationOptions("offsite", new Mirror(_store, _root, "pre/", 4), TimeSpan.FromDays(90))
        {
            PersistenceId = SyncIds.Of("db1", "offsite"),
            Formers = [new FormerState(SyncIds.Of(null, "offsite"))],
        };
        dest = clustered.Sys.ActorOf(DestinationActor.Props(options));
        dest.Tell(new GetSyncState(2), clustered.TestActor);
        var taken = clustered.ExpectMsg<SyncStateReport>(Patience).State;
        Assert.Equal(["www/log.txt"], taken.MustPush);
        Assert.Equal(["www/"], taken.MustSync);
        Assert.Equal(2, (await SyncStateReading.ReadAsync(clustered.Sys, "sync/db1/offsite", Patience)).LastSequenceNr);
        Assert.Equal(["www/log.txt"], (await SyncStateReading.ReadAsync(clustered.Sys, "destination-offsite", Patience)).State.MustPush);
        dest.Tell(new RunSync(3), clustered.TestActor);
        Assert.True(clustered.ExpectMsg<SyncFinished>(Patience).Pending.IsEmpty);
        clustered.Shutdown();

        // Started again: its own id has events, so the former (still pending there) is not taken over a second time.
        var again = NewSystem();
        dest = again.Sys.ActorOf(DestinationActor.Props(options));
        dest.Tell(new GetSyncState(4), again.TestActor);
        Assert.True(again.ExpectMsg<SyncStateReport>(Patience).State.IsEmpty);
        again.Shutdown();

        // Another journal (here another SQLite file, as PostgreSQL is for a node that moved): the state comes from the node's own file.
        var moved = new TestKit(Journal(Path.Combine(_dir, "moved.db")));
        dest = moved.Sys.ActorOf(DestinationActor.Props(options with
        {
            Formers = [new FormerState("sync/db1/offsite", Path.Combine(_dir, "absent.db")), new FormerState("destination-offsite", Path.Combine(_dir, "journal.db"))],
        }));
        dest.Tell(new GetSyncState(5), moved.TestActor);
        Assert.Equal(["www/log.txt"], moved.ExpectMsg<SyncStateReport>(Patience).State.MustPush);
        moved.Shutdown();
    }
}
