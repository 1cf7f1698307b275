using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.TestKit.Xunit2;
using BtwBackup.Hosting;
using BtwBackup.Sync;
using Microsoft.Data.Sqlite;
using Xunit;

namespace BtwBackup.Tests.Actors;

/// <summary>
/// Every DestinationActor test again on the journal a command without a daemon uses
/// (<see cref="SqliteFileJournal"/>, which also makes the tables of a new file).
/// </summary>
public sealed class DestinationActorOnFileJournalSpec : DestinationActorSpec
{
    protected override Akka.Configuration.Config Journal(string file, bool pooling = true)
    {
        var config = PersistenceConfig.ForSqlite(file, pooling, oneShot: true);
        Assert.Equal("akka.persistence.journal.btw-file", config.GetString("akka.persistence.journal.plugin"));
        return config;
    }
}

/// <summary>
/// <see cref="SqliteFileJournal"/> against Akka.Persistence.Sql on the same work: the rows each leaves
/// in the file are the same (but for the writer's id and the times), and each recovers what the
/// other wrote, numbers included.
/// </summary>
public sealed class SqliteFileJournalSpec : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private static readonly Lazy<byte[]> Empty = new(MakeEmpty);
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-journal-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A journal file with the plugin's tables and nothing else, made by the plugin (once per test run).</summary>
    internal static void Tables(string file) => File.WriteAllBytes(file, Empty.Value);

    private static byte[] MakeEmpty()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("btw-journal-empty-").FullName, "journal.db");
        var kit = new TestKit(PersistenceConfig.ForSqlite(file, pooling: false));
        kit.Sys.ActorOf(Props.Create(() => new Script("empty"))).Tell(new Script.Highest(), kit.TestActor);
        kit.ExpectMsg<long>(Patience);
        kit.Shutdown();
        var bytes = File.ReadAllBytes(file);
        Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        return bytes;
    }

    private static Akka.Configuration.Config Config(string file, bool light)
    {
        var config = PersistenceConfig.ForSqlite(file, pooling: false, oneShot: light);
        Assert.Equal(light ? "akka.persistence.journal.btw-file" : "akka.persistence.journal.sql", config.GetString("akka.persistence.journal.plugin"));
        return config;
    }

    /// <summary>A persistent actor that does what it is told: persist events (tagged or not), snapshot, delete.</summary>
    private sealed class Script : ReceivePersistentActor
    {
        public sealed record Persist(object[] Events);
        public sealed record Snapshot(object State);
        public sealed record Delete(long To);
        public sealed record Highest;
        public sealed record Replayed;

        private readonly List<(long, object)> _replayed = [];
        private object? _snapshot;

        public override string PersistenceId { get; }

        public Script(string id)
        {
            PersistenceId = id;
            Recover<SnapshotOffer>(o => _snapshot = o.Snapshot);
            Recover<SyncEvent>(e => _replayed.Add((LastSequenceNr, e)));
            Command<Persist>(p =>
            {
                var sender = Sender;
                var left = p.Events.Length;
                PersistAll(p.Events, _ =>
                {
                    if (--left == 0)
                        sender.Tell(LastSequenceNr);
                });
            });
            Command<Snapshot>(s =>
            {
                SaveSnapshot(s.State);
                Become(() => Saving(Sender));
            });
            Command<Delete>(d =>
            {
                DeleteMessages(d.To);
                var sender = Sender;
                Become(() =>
                {
                    Command<DeleteMessagesSuccess>(ok => { sender.Tell(ok.ToSequenceNr); UnbecomeStacked(); });
                    Command<DeleteMessagesFailure>(f => { sender.Tell(new Status.Failure(f.Cause)); UnbecomeStacked(); });
                });
            });
            Command<Highest>(_ => Sender.Tell(LastSequenceNr));
            Command<Replayed>(_ => Sender.Tell((_snapshot, _replayed.ToList())));
        }

        private void Saving(IActorRef sender)
        {
            Command<SaveSnapshotSuccess>(ok => { sender.Tell(ok.Metadata.SequenceNr); UnbecomeStacked(); });
            Command<SaveSnapshotFailure>(f => { sender.Tell(new Status.Failure(f.Cause)); UnbecomeStacked(); });
        }
    }

    private static readonly DateTime At = new(2026, 12, 8, 2, 0, 0, DateTimeKind.Utc);

    private static object Event(int n) => n % 2 == 0 ? new PushRequested(At.AddSeconds(n), $"www/{n}") : new SyncRequested(At.AddSeconds(n), $"db/{n}");

    /// <summary>The same work on two ids: batches, a tagged event, a snapshot, a deletion up to a number between events.</summary>
    private static void Work(TestKit kit)
    {
        foreach (var id in new[] { "destination-a", "sync/h/b" })
        {
            var actor = kit.Sys.ActorOf(Props.Create(() => new Script(id)));
            actor.Tell(new Script.Persist([Event(1), Event(2), Event(3)]), kit.TestActor);
            Assert.Equal(3L, kit.ExpectMsg<long>(Patience));
            actor.Tell(new Script.Persist([new Tagged(Event(4), ["t1", "t2"]), Event(5)]), kit.TestActor);
            Assert.Equal(5L, kit.ExpectMsg<long>(Patience));
            var state = SyncState.Empty.Apply((SyncEvent)Event(2)).Apply((SyncEvent)Event(3));
            actor.Tell(new Script.Snapshot(state), kit.TestActor);
            Assert.Equal(5L, kit.ExpectMsg<long>(Patience));
            actor.Tell(new Script.Delete(4), kit.TestActor);
            Assert.Equal(4L, kit.ExpectMsg<long>(Patience));
            actor.Tell(new Script.Persist([Event(6)]), kit.TestActor);
            Assert.Equal(6L, kit.ExpectMsg<long>(Patience));
            actor.Tell(new Script.Snapshot(state.Apply((SyncEvent)Event(6))), kit.TestActor);
            Assert.Equal(6L, kit.ExpectMsg<long>(Patience));
            actor.Tell(new Script.Persist([Event(7)]), kit.TestActor);
            Assert.Equal(7L, kit.ExpectMsg<long>(Patience));
        }
    }

    /// <summary>Every row of the file, but for what differs between two runs (the writer's id, the times).</summary>
    private static List<string> Rows(string file)
    {
        using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
        connection.Open();
        var rows = new List<string>();
        foreach (var sql in new[]
                 {
                     "select 'journal', ordering, deleted, persistence_id, sequence_number, hex(message), manifest, identifier, length(writer_uuid), typeof(created) from journal order by ordering",
                     // One writer id per journal, not per actor (the plugin's); the file in rollback mode, never WAL.
                     "select 'writers', count(distinct writer_uuid) from journal",
                     "select 'mode', journal_mode from pragma_journal_mode()",
                     "select 'snapshot', persistence_id, sequence_number, hex(snapshot), manifest, serializer_id, typeof(created) from snapshot order by persistence_id, sequence_number",
                     "select 'tags', ordering_id, tag, sequence_nr, persistence_id from tags order by ordering_id, tag",
                     "select 'sequence', name, seq from sqlite_sequence order by name",
                 })
        {
            using var select = connection.CreateCommand();
            select.CommandText = sql;
            using var row = select.ExecuteReader();
            while (row.Read())
                rows.Add(string.Join(" | ", Enumerable.Range(0, row.FieldCount).Select(i => row.IsDBNull(i) ? "NULL" : Convert.ToString(row.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
        }

        return rows;
    }

    [Fact]
    public void The_same_work_leaves_the_same_rows_as_the_plugin()
    {
        var plugin = Path.Combine(_dir, "plugin.db");
        var light = Path.Combine(_dir, "light.db");
        Tables(plugin);
        Tables(light);
        foreach (var (file, isLight) in new[] { (plugin, false), (light, true) })
        {
            var kit = new TestKit(Config(file, isLight));
            Work(kit);
            kit.Shutdown();
        }

        var expected = Rows(plugin);
        // The work has what it claims: a deleted event kept as the highest, tags, two snapshots per id.
        Assert.Contains(expected, r => r.StartsWith("journal | ", StringComparison.Ordinal) && r.Split(" | ")[2] == "1");
        Assert.Equal(4, expected.Count(r => r.StartsWith("tags | ", StringComparison.Ordinal)));
        Assert.Equal(4, expected.Count(r => r.StartsWith("snapshot | ", StringComparison.Ordinal)));
        Assert.Equal(expected, Rows(light));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Each_recovers_what_the_other_wrote_and_goes_on_after_its_numbers(bool writtenLight)
    {
        var file = Path.Combine(_dir, "journal.db");
        Tables(file);
        var writer = new TestKit(Config(file, writtenLight));
        Work(writer);
        var expected = Recovered(writer);
        writer.Shutdown();

        var reader = new TestKit(Config(file, !writtenLight));
        var recovered = Recovered(reader);
        foreach (var (id, (snapshot, events)) in expected)
        {
            var (readSnapshot, readEvents) = recovered[id];
            Assert.Equal(((SyncState)snapshot!).MustPush, ((SyncState)readSnapshot!).MustPush);
            Assert.Equal(((SyncState)snapshot!).MustSync, ((SyncState)readSnapshot!).MustSync);
            Assert.Equal(events, readEvents);
            Assert.Equal([(7L, Event(7))], readEvents);
        }

        // The next number is the one after the highest, also where every event was deleted since
        // (the highest is kept, marked deleted), whichever journal deleted them.
        var actor = reader.Sys.ActorOf(Props.Create(() => new Script("destination-a")));
        actor.Tell(new Script.Persist([Event(8)]), reader.TestActor);
        Assert.Equal(8L, reader.ExpectMsg<long>(Patience));
        actor.Tell(new Script.Delete(8), reader.TestActor);
        Assert.Equal(8L, reader.ExpectMsg<long>(Patience));
        reader.Shutdown();
        var again = new TestKit(Config(file, writtenLight));
        actor = again.Sys.ActorOf(Props.Create(() => new Script("destination-a")));
        actor.Tell(new Script.Replayed(), again.TestActor);
        Assert.Empty(again.ExpectMsg<(object?, List<(long, object)>)>(Patience).Item2);
        actor.Tell(new Script.Persist([Event(9)]), again.TestActor);
        Assert.Equal(9L, again.ExpectMsg<long>(Patience));
        again.Shutdown();
    }

    private static Dictionary<string, (object? Snapshot, List<(long, object)> Events)> Recovered(TestKit kit) =>
        new[] { "destination-a", "sync/h/b" }.ToDictionary(id => id, id =>
        {
            var actor = kit.Sys.ActorOf(Props.Create(() => new Script(id)));
            actor.Tell(new Script.Replayed(), kit.TestActor);
            var replayed = kit.ExpectMsg<(object?, List<(long, object)>)>(Patience);
            kit.Sys.Stop(actor);
            return replayed;
        });

    /// <summary>
    /// The file taken away under the journal's pooled connection (as the CLI opens it): the next
    /// write fails and the actor stops, nothing acknowledged; the file put back, a new system
    /// recovers what was stored before.
    /// </summary>
    [Fact]
    public void A_file_taken_away_under_the_pooled_connection_fails_the_write()
    {
        var file = Path.Combine(_dir, "journal.db");
        Tables(file);
        var kit = new TestKit(PersistenceConfig.ForSqlite(file, oneShot: true));
        var actor = kit.Sys.ActorOf(Props.Create(() => new Script("destination-a")));
        actor.Tell(new Script.Persist([Event(1)]), kit.TestActor);
        Assert.Equal(1L, kit.ExpectMsg<long>(Patience));
        File.Move(file, file + ".away");
        Directory.CreateDirectory(file);
        kit.Watch(actor);
        actor.Tell(new Script.Persist([Event(2)]), kit.TestActor);
        kit.ExpectTerminated(actor, Patience);
        kit.Shutdown();
        Directory.Delete(file);
        File.Move(file + ".away", file);

        var again = new TestKit(Config(file, light: true));
        actor = again.Sys.ActorOf(Props.Create(() => new Script("destination-a")));
        actor.Tell(new Script.Replayed(), again.TestActor);
        Assert.Equal([(1L, Event(1))], again.ExpectMsg<(object?, List<(long, object)>)>(Patience).Item2);
        again.Shutdown();
    }

    /// <summary>
    /// A damaged event row (a payload that is not the serializer's, no serializer id, text where the
    /// plugin writes bytes, a manifest that is not text): the recovery fails and the actor stops,
    /// answering nothing, whichever journal reads it; nothing is replayed past it and the row is left.
    /// </summary>
    [Theory]
    [InlineData(false, "message", "'not json'")]
    [InlineData(true, "message", "cast('not json' as blob)")]
    [InlineData(false, "identifier", "null")]
    [InlineData(true, "identifier", "null")]
    [InlineData(true, "identifier", "1099511627776")]
    [InlineData(true, "message", "'text, not bytes'")]
    [InlineData(true, "manifest", "x'00ff'")]
    public void A_damaged_row_stops_the_recovery_whichever_journal_reads_it(bool light, string column, string value)
    {
        var file = Path.Combine(_dir, "journal.db");
        Tables(file);
        var writer = new TestKit(Config(file, light: true));
        writer.Sys.ActorOf(Props.Create(() => new Script("destination-a"))).Tell(new Script.Persist([Event(1), Event(2)]), writer.TestActor);
        Assert.Equal(2L, writer.ExpectMsg<long>(Patience));
        writer.Shutdown();
        using (var connection = new SqliteConnection($"Data Source={file};Pooling=False"))
        {
            connection.Open();
            using var damage = connection.CreateCommand();
            damage.CommandText = $"update journal set {column} = {value} where sequence_number = 1";
            Assert.Equal(1, damage.ExecuteNonQuery());
        }

        var before = Rows(file);
        var reader = new TestKit(Config(file, light));
        var actor = reader.Sys.ActorOf(Props.Create(() => new Script("destination-a")));
        reader.Watch(actor);
        actor.Tell(new Script.Replayed(), reader.TestActor);
        reader.ExpectTerminated(actor, Patience);
        reader.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        reader.Shutdown();
        Assert.Equal(before, Rows(file));
    }

    /// <summary>
    /// Two writers of one id (what the configuration directory's lock prevents): the second's write
    /// at a number the first already stored fails on the unique index, and nothing of it is stored.
    /// </summary>
    [Fact]
    public void A_second_writer_at_a_taken_number_fails_and_stores_nothing()
    {
        var file = Path.Combine(_dir, "journal.db");
        Tables(file);
        var first = new TestKit(Config(file, light: true));
        var second = new TestKit(Config(file, light: true));
        var a = first.Sys.ActorOf(Props.Create(() => new Script("destination-a")));
        var b = second.Sys.ActorOf(Props.Create(() => new Script("destination-a")));
        a.Tell(new Script.Highest(), first.TestActor);
        b.Tell(new Script.Highest(), second.TestActor);
        Assert.Equal(0L, first.ExpectMsg<long>(Patience));
        Assert.Equal(0L, second.ExpectMsg<long>(Patience));
        a.Tell(new Script.Persist([Event(1)]), first.TestActor);
        Assert.Equal(1L, first.ExpectMsg<long>(Patience));
        second.Watch(b);
        b.Tell(new Script.Persist([Event(2), Event(3)]), second.TestActor);
        second.ExpectTerminated(b, Patience);
        first.Shutdown();
        second.Shutdown();
        Assert.Equal(["journal | 1 | 0 | destination-a | 1"], Rows(file).Where(r => r.StartsWith("journal", StringComparison.Ordinal)).Select(r => string.Join(" | ", r.Split(" | ").Take(5))));
    }

    /// <summary>Each table and index of the file: what the plugin makes, and what this journal must make the same.</summary>
    private static List<string> Schema(string file)
    {
        using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var select = connection.CreateCommand();
        select.CommandText = "select type, name, tbl_name, coalesce(sql, '') from sqlite_master order by name";
        using var row = select.ExecuteReader();
        var schema = new List<string>();
        while (row.Read())
            schema.Add($"{row.GetString(0)} {row.GetString(1)} {row.GetString(2)} {row.GetString(3)}");
        return schema;
    }

    /// <summary>
    /// A new file, or one where a table or an index is missing (a run stopped while they were
    /// made), gets the plugin's own tables and indexes, statement for statement; and a file that
    /// is not a database fails the write (the actor stops) without being written over.
    /// </summary>
    [Fact]
    public void A_file_without_the_tables_gets_the_plugins_own()
    {
        var plugin = Path.Combine(_dir, "plugin.db");
        Tables(plugin);
        var expected = Schema(plugin);
        // The plugin's ten, the indexes of two primary keys (tags, snapshot), and the journal's numbering.
        Assert.Equal(PersistenceConfig.SqliteSchema.Length + 3, expected.Count);

        var fresh = Path.Combine(_dir, "fresh.db");
        var number = 0L;
        void Write()
        {
            var kit = new TestKit(Config(fresh, light: true));
            var actor = kit.Sys.ActorOf(Props.Create(() => new Script("destination-a")));
            actor.Tell(new Script.Persist([Event(1)]), kit.TestActor);
            Assert.Equal(++number, kit.ExpectMsg<long>(Patience));
            kit.Shutdown();
            Assert.Equal(expected, Schema(fresh));
            Assert.True(PersistenceConfig.HasTables(fresh));
        }

        Write();
        foreach (var drop in new[] { "index journal_uq", "table snapshot", "table tags" })
        {
            using (var connection = new SqliteConnection($"Data Source={fresh};Pooling=False"))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "drop " + drop;
                command.ExecuteNonQuery();
            }

            Assert.False(PersistenceConfig.HasTables(fresh));
            Write();
        }

        var garbage = Path.Combine(_dir, "garbage.db");
        File.WriteAllText(garbage, "not a database");
        var failing = new TestKit(Config(garbage, light: true));
        var script = failing.Sys.ActorOf(Props.Create(() => new Script("destination-a")));
        failing.Watch(script);
        script.Tell(new Script.Persist([Event(1)]), failing.TestActor);
        failing.ExpectTerminated(script, Patience);
        failing.Shutdown();
        Assert.Equal("not a database", File.ReadAllText(garbage));
    }
}
