using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.Snapshot;
using Microsoft.Data.Sqlite;
using HoconConfig = Akka.Configuration.Config;
using AkkaSerialization = Akka.Serialization.Serialization;

namespace BtwBackup.Sync;

/// <summary>
/// The sync-state journal of a command run without a daemon: the very tables Akka.Persistence.Sql
/// keeps in <c>sync-state.db</c>, read and written as that plugin (1.5.73) reads and writes them,
/// with plain statements. The plugin's start (linq2db's mappings and compiled queries, an Akka.Streams
/// write queue) was most of a one-shot sync's recovery; the daemon, PostgreSQL and a cluster keep the
/// plugin. In a file without the plugin's tables it makes them, with the plugin's own statements.
/// <para>
/// Row for row: an event is one journal row (its payload by the Akka serializer bound to it, that
/// serializer's id and manifest, this journal's writer id, the write's time in ticks, <c>deleted</c> 0), its
/// tags rows of the tags table; deleting events up to N marks the highest event at or below N
/// deleted and removes those below it (so the highest number is never given again); the highest
/// number is that of any row, deleted or not; a replay gives the rows not deleted in order. Tests
/// run the same work through this journal and the plugin and compare the files' rows, and recover
/// from each what the other wrote.
/// </para>
/// <para>
/// Each operation opens the file (a pooled connection), runs in one transaction, and completes before
/// the next starts: the journal actor runs them in the order it receives them, and a persistent
/// actor sends its next write only once the last is answered. A failure is the operation's: the write
/// is answered failed (the actor stops, nothing acknowledged) and the rows stay as they were. The
/// work blocks the plugin actor's own thread (a pinned dispatcher, see <c>PersistenceConfig</c>), for
/// at most SQLite's busy timeout when another connection holds the file.
/// </para>
/// <para>
/// Refused where the plugin would go on: a row without a serializer id (the plugin would load the type
/// its manifest names; nothing this project writes lacks one, and a file is no place to name types
/// from) is an error, which stops the actor as a damaged row does. Payloads are serialized without
/// Akka's transport information: the sync state holds no actor references.
/// </para>
/// </summary>
public sealed class SqliteFileJournal(HoconConfig config) : AsyncWriteJournal
{
    private readonly SqliteFile _file = new(config);
    private readonly AkkaSerialization _serialization = Context.System.Serialization;

    // One id for every row this journal writes, as the plugin writes its own (not the actor's).
    private readonly string _writerUuid = Guid.NewGuid().ToString("N");

    protected override Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken) => SqliteFile.Run(() =>
    {
        var ticks = DateTime.UtcNow.Ticks;
        var writes = messages.ToList();
        // A write that cannot be serialized is rejected alone, as the plugin rejects it; the others are stored.
        var rejections = new Exception?[writes.Count];
        var serialized = new List<(IPersistentRepresentation Event, SqliteFile.Payload Payload, IImmutableSet<string> Tags)>();
        for (var i = 0; i < writes.Count; i++)
        {
            try
            {
                serialized.AddRange(((IImmutableList<IPersistentRepresentation>)writes[i].Payload).Select(p => p.Payload is Tagged tagged
                    ? (p, SqliteFile.Serialize(_serialization, tagged.Payload), tagged.Tags)
                    : (p, SqliteFile.Serialize(_serialization, p.Payload), (IImmutableSet<string>)ImmutableHashSet<string>.Empty)).ToList());
            }
            catch (Exception e)
            {
                rejections[i] = e;
            }
        }

        using var connection = _file.Open();
        using var transaction = connection.BeginTransaction();
        foreach (var (e, payload, tags) in serialized)
        {
            var orderingId = SqliteFile.InsertEvent(connection, transaction, e.PersistenceId, e.SequenceNr, payload, _writerUuid, e.Timestamp == 0 ? ticks : e.Timestamp);
            foreach (var tag in tags)
            {
                using var tagRow = SqliteFile.Command(connection, transaction,
                    "insert into tags (ordering_id, tag, sequence_nr, persistence_id) values ($ordering, $tag, $sequenceNr, $id)");
                tagRow.Parameters.AddWithValue("$ordering", orderingId);
                tagRow.Parameters.AddWithValue("$tag", tag);
                tagRow.Parameters.AddWithValue("$sequenceNr", e.SequenceNr);
                tagRow.Parameters.AddWithValue("$id", e.PersistenceId);
                tagRow.ExecuteNonQuery();
            }
        }

        transaction.Commit();
        return rejections.Any(r => r is not null) ? (IImmutableList<Exception?>)rejections.ToImmutableList() : null!;
    });

    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken) => SqliteFile.Run(() =>
    {
        using var connection = _file.Open();
        using var transaction = connection.BeginTransaction();
        using var highest = SqliteFile.Command(connection, transaction,
            "select sequence_number from journal where persistence_id = $id and sequence_number <= $to order by sequence_number desc limit 1");
        highest.Parameters.AddWithValue("$id", persistenceId);
        highest.Parameters.AddWithValue("$to", toSequenceNr);
        if (highest.ExecuteScalar() is not long marked)
            return true;
        foreach (var sql in (string[])[
                     "update journal set deleted = 1 where persistence_id = $id and sequence_number = $marked",
                     "delete from journal where persistence_id = $id and sequence_number < $marked",
                     "delete from tags where persistence_id = $id and sequence_nr < $marked"])
        {
            using var command = SqliteFile.Command(connection, transaction, sql);
            command.Parameters.AddWithValue("$id", persistenceId);
            command.Parameters.AddWithValue("$marked", marked);
            command.ExecuteNonQuery();
        }

        transaction.Commit();
        return true;
    });

    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken) => SqliteFile.Run(() =>
    {
        using var connection = _file.Open();
        using var highest = SqliteFile.Command(connection, null,
            "select max(sequence_number) from journal where persistence_id = $id and sequence_number > $from");
        highest.Parameters.AddWithValue("$id", persistenceId);
        // The plugin asks for rows above the number only when it is not 0; every number is 1 or more.
        highest.Parameters.AddWithValue("$from", fromSequenceNr);
        return highest.ExecuteScalar() is long n ? n : 0L;
    });

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback) => SqliteFile.Run(() =>
    {
        using var connection = _file.Open();
        using var replay = SqliteFile.Command(connection, null,
            "select sequence_number, message, manifest, identifier, writer_uuid, created from journal "
            + "where persistence_id = $id and sequence_number >= $from and sequence_number <= $to and deleted = 0 "
            + "order by sequence_number limit $max");
        replay.Parameters.AddWithValue("$id", persistenceId);
        replay.Parameters.AddWithValue("$from", fromSequenceNr);
        replay.Parameters.AddWithValue("$to", toSequenceNr);
        replay.Parameters.AddWithValue("$max", max);
        using var row = replay.ExecuteReader();
        while (row.Read())
        {
            var (bytes, manifest, serializerId) = SqliteFile.Stored(row, 1);
            var payload = _serialization.Deserialize(bytes, serializerId, manifest ?? "");
            recoveryCallback(new Persistent(payload, row.GetInt64(0), persistenceId, manifest ?? "", false, ActorRefs.NoSender,
                row.IsDBNull(4) ? null : row.GetString(4), row.GetInt64(5)));
        }

        return true;
    });
}

/// <summary>
/// The snapshots of <see cref="SqliteFileJournal"/>: Akka.Persistence.Sql's snapshot table (one row per
/// id and number, replaced when saved again; its time in ticks), chosen and deleted by the criteria as
/// that plugin chooses them (the highest number within the maxima; the minima are not asked, as there).
/// </summary>
public sealed class SqliteFileSnapshotStore(HoconConfig config) : SnapshotStore
{
    private readonly SqliteFile _file = new(config);
    private readonly AkkaSerialization _serialization = Context.System.Serialization;

    protected override Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) => SqliteFile.Run(() =>
    {
        using var connection = _file.Open();
        using var load = Within(SqliteFile.Command(connection, null,
            "select sequence_number, created, snapshot, manifest, serializer_id from snapshot where persistence_id = $id"), persistenceId, criteria);
        load.CommandText += " order by sequence_number desc limit 1";
        using var row = load.ExecuteReader();
        return row.Read()
            ? new SelectedSnapshot(new SnapshotMetadata(persistenceId, row.GetInt64(0), new DateTime(row.GetInt64(1))), SqliteFile.Deserialize(_serialization, row, 2))
            : null;
    });

    protected override Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken) => SqliteFile.Run(() =>
    {
        var payload = SqliteFile.Serialize(_serialization, snapshot);
        using var connection = _file.Open();
        using var save = SqliteFile.Command(connection, null,
            "insert or replace into snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id) "
            + "values ($id, $sequenceNr, $created, $snapshot, $manifest, $serializer)");
        save.Parameters.AddWithValue("$id", metadata.PersistenceId);
        save.Parameters.AddWithValue("$sequenceNr", metadata.SequenceNr);
        save.Parameters.AddWithValue("$created", metadata.Timestamp.Ticks);
        save.Parameters.AddWithValue("$snapshot", payload.Bytes);
        save.Parameters.AddWithValue("$manifest", payload.Manifest);
        save.Parameters.AddWithValue("$serializer", payload.SerializerId);
        save.ExecuteNonQuery();
        return true;
    });

    protected override Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken) => SqliteFile.Run(() =>
    {
        using var connection = _file.Open();
        using var delete = SqliteFile.Command(connection, null, "delete from snapshot where persistence_id = $id and sequence_number = $sequenceNr");
        delete.Parameters.AddWithValue("$id", metadata.PersistenceId);
        delete.Parameters.AddWithValue("$sequenceNr", metadata.SequenceNr);
        if (metadata.Timestamp > DateTime.MinValue)
        {
            delete.CommandText += " and created <= $created";
            delete.Parameters.AddWithValue("$created", metadata.Timestamp.Ticks);
        }

        delete.ExecuteNonQuery();
        return true;
    });

    protected override Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) => SqliteFile.Run(() =>
    {
        using var connection = _file.Open();
        using var delete = Within(SqliteFile.Command(connection, null, "delete from snapshot where persistence_id = $id"), persistenceId, criteria);
        delete.ExecuteNonQuery();
        return true;
    });

    /// <summary>The snapshots of <paramref name="persistenceId"/> within the maxima of <paramref name="criteria"/> (a maximum at its largest value is no bound).</summary>
    private static SqliteCommand Within(SqliteCommand command, string persistenceId, SnapshotSelectionCriteria criteria)
    {
        command.Parameters.AddWithValue("$id", persistenceId);
        if (criteria.MaxSequenceNr != long.MaxValue)
        {
            command.CommandText += " and sequence_number <= $maxSequenceNr";
            command.Parameters.AddWithValue("$maxSequenceNr", criteria.MaxSequenceNr);
        }

        if (criteria.MaxTimeStamp != DateTime.MaxValue)
        {
            command.CommandText += " and created <= $maxCreated";
            command.Parameters.AddWithValue("$maxCreated", criteria.MaxTimeStamp.Ticks);
        }

        return command;
    }
}

/// <summary>
/// What <see cref="SqliteFileJournal"/> and <see cref="SqliteFileSnapshotStore"/> share: the file (with
/// <c>make-tables</c>, the plugin's tables and indexes, made where missing before the first operation),
/// and payloads as the plugin stores them.
/// </summary>
internal sealed class SqliteFile(HoconConfig config)
{
    /// <summary>
    /// The plugin's tables and indexes in SQLite, each by name with its own statement (as the plugin
    /// leaves it in sqlite_master, where SQLite keeps it without IF NOT EXISTS): a file made here is
    /// the file the plugin makes, which a test compares. <c>PersistenceConfig.HasTables</c> asks for
    /// these names.
    /// </summary>
    internal static readonly (string Name, string Statement)[] Schema =
    [
        ("journal", "CREATE TABLE IF NOT EXISTS [journal]\n(\n\t[ordering]        INTEGER        NOT NULL PRIMARY KEY AUTOINCREMENT,\n\t[created]         INTEGER        NOT NULL,\n"
            + "\t[deleted]         Bit            NOT NULL,\n\t[persistence_id]  NVarChar(255)  NOT NULL,\n\t[sequence_number] INTEGER        NOT NULL,\n"
            + "\t[message]         VarBinary      NOT NULL,\n\t[manifest]        NVarChar(500)      NULL,\n\t[identifier]      INTEGER            NULL,\n"
            + "\t[writer_uuid]     NVarChar(128)      NULL\n)"),
        ("journal_uq", "CREATE UNIQUE INDEX IF NOT EXISTS journal_uq ON journal (persistence_id, sequence_number)"),
        ("journal_created_idx", "CREATE INDEX IF NOT EXISTS journal_created_idx ON journal (created)"),
        ("journal_sequence_number_idx", "CREATE INDEX IF NOT EXISTS journal_sequence_number_idx ON journal (sequence_number)"),
        ("tags", "CREATE TABLE IF NOT EXISTS [tags]\n(\n\t[ordering_id]    INTEGER       NOT NULL,\n\t[tag]            NVarChar(64)  NOT NULL,\n"
            + "\t[sequence_nr]    INTEGER       NOT NULL,\n\t[persistence_id] NVarChar(255) NOT NULL,\n\n\tCONSTRAINT [PK_tags] PRIMARY KEY ([ordering_id], [tag])\n)"),
        ("tags_persistence_id_sequence_nr_idx", "CREATE INDEX IF NOT EXISTS tags_persistence_id_sequence_nr_idx ON tags (persistence_id, sequence_nr)"),
        ("tags_tag_idx", "CREATE INDEX IF NOT EXISTS tags_tag_idx ON tags (tag)"),
        ("snapshot", "CREATE TABLE IF NOT EXISTS [snapshot]\n(\n\t[persistence_id]  NVarChar(255) NOT NULL,\n\t[sequence_number] INTEGER       NOT NULL,\n"
            + "\t[created]         INTEGER       NOT NULL,\n\t[snapshot]        VarBinary         NULL,\n\t[manifest]        NVarChar(500)     NULL,\n"
            + "\t[serializer_id]   INTEGER           NULL,\n\n\tCONSTRAINT [PK_snapshot] PRIMARY KEY ([persistence_id], [sequence_number])\n)"),
        ("snapshot_sequence_number_idx", "CREATE INDEX IF NOT EXISTS snapshot_sequence_number_idx ON snapshot (sequence_number)"),
        ("snapshot_created_idx", "CREATE INDEX IF NOT EXISTS snapshot_created_idx ON snapshot (created)"),
    ];

    private readonly string _connection = config.GetString("connection-string");
    private bool _tablesMade = !config.GetBoolean("make-tables");

    internal sealed record Payload(byte[] Bytes, string Manifest, int SerializerId);

    /// <summary>The file, opened (a pooled connection unless the connection string says otherwise), its tables made first where asked.</summary>
    internal SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connection);
        try
        {
            connection.Open();
            if (!_tablesMade)
            {
                // All or none, in one transaction; the journal and the snapshot store each get here once
                // (the second finds every one made: IF NOT EXISTS), as may the plugin's own journal where
                // the history is read through the actors (its statements are these).
                using var transaction = connection.BeginTransaction();
                foreach (var (_, statement) in Schema)
                {
                    using var make = Command(connection, transaction, statement);
                    make.ExecuteNonQuery();
                }

                transaction.Commit();
                _tablesMade = true;
            }

            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <paramref name="work"/>, done now on the plugin actor's thread: the next operation starts
    /// only after it (the order of the actor's messages), and a failure is the task's, never the actor's.
    /// </summary>
    internal static Task<T> Run<T>(Func<T> work)
    {
        try
        {
            return Task.FromResult(work());
        }
        catch (Exception e)
        {
            return Task.FromException<T>(e);
        }
    }

    internal static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    /// <summary>The bytes, manifest and serializer id the plugin stores for <paramref name="payload"/>.</summary>
    internal static Payload Serialize(AkkaSerialization serialization, object payload)
    {
        var serializer = serialization.FindSerializerFor(payload);
        var manifest = serializer switch
        {
            Akka.Serialization.SerializerWithStringManifest named => named.Manifest(payload),
            { IncludeManifest: true } => Akka.Util.TypeExtensions.TypeQualifiedName(payload.GetType()),
            _ => "",
        };
        return new Payload(serializer.ToBinary(payload), manifest, serializer.Identifier);
    }

    /// <summary>
    /// Stores one event as the plugin does (<c>deleted</c> 0): the row's <c>ordering</c>, which its
    /// tags rows refer to. <see cref="SyncJournalFile.RecordSyncOfRoot"/> writes its row with it too.
    /// </summary>
    internal static long InsertEvent(SqliteConnection connection, SqliteTransaction transaction, string persistenceId, long sequenceNr,
        Payload payload, string writer, long createdTicks)
    {
        using var insert = Command(connection, transaction,
            "insert into journal (created, deleted, persistence_id, sequence_number, message, manifest, identifier, writer_uuid) "
            + "values ($created, 0, $id, $sequenceNr, $message, $manifest, $identifier, $writer) returning ordering");
        insert.Parameters.AddWithValue("$created", createdTicks);
        insert.Parameters.AddWithValue("$id", persistenceId);
        insert.Parameters.AddWithValue("$sequenceNr", sequenceNr);
        insert.Parameters.AddWithValue("$message", payload.Bytes);
        insert.Parameters.AddWithValue("$manifest", payload.Manifest);
        insert.Parameters.AddWithValue("$identifier", payload.SerializerId);
        insert.Parameters.AddWithValue("$writer", writer);
        return (long)insert.ExecuteScalar()!;
    }

    /// <summary>
    /// The payload stored at <paramref name="column"/> (bytes, then manifest, then serializer id), checked
    /// as far as its layout goes: a damaged row (no serializer id, one out of range, text where the plugin
    /// writes bytes) is an <see cref="InvalidDataException"/>, never a cast or an overflow. Its manifest
    /// is null where the row has none.
    /// </summary>
    internal static (byte[] Bytes, string? Manifest, int SerializerId) Stored(SqliteDataReader row, int column)
    {
        if (row.IsDBNull(column + 2) || row.GetValue(column + 2) is not long id || id is < int.MinValue or > int.MaxValue)
            throw new InvalidDataException("a journal row without the id of its serializer");
        if (row.GetValue(column) is not byte[] bytes)
            throw new InvalidDataException("a journal row whose payload is not bytes");
        return (bytes, row.IsDBNull(column + 1) ? null : row.GetValue(column + 1) as string
            ?? throw new InvalidDataException("a journal row whose manifest is not text"), (int)id);
    }

    /// <summary>The payload at <paramref name="column"/>, as the plugin reads it back (see <see cref="Stored"/>).</summary>
    internal static object Deserialize(AkkaSerialization serialization, SqliteDataReader row, int column)
    {
        var (bytes, manifest, id) = Stored(row, column);
        return serialization.Deserialize(bytes, id, manifest ?? "");
    }
}
