using System.Collections.Immutable;
using BtwBackup.Config;
using BtwBackup.Hosting;
using BtwBackup.Protocol;
using Microsoft.Data.Sqlite;

namespace BtwBackup.Sync;

/// <summary>
/// <c>sync-state --list</c> and <c>--history</c> without a daemon, read from the SQLite journal
/// file itself instead of through an actor system (which takes half a second to start with the
/// persistence plugin, and replays the whole journal once more for the history): what a
/// recovery would give, from the same rows. Read-only, so it may run beside a writer, which it
/// then sees as it was a moment ago.
/// <para>
/// The rows are Akka.Persistence.Sql's: the latest snapshot of an id, then its events after it
/// that are not marked deleted, in sequence order, every payload in <see cref="SyncSerializer"/>'s
/// format. A test compares what this reads with what the plugin recovers from the same file, so
/// that a plugin that changes its tables fails there, not here.
/// </para>
/// <para>
/// It answers null (the caller then asks the actors) whenever it is not certain to give what
/// the actors would: a destination with nothing stored yet (its actor may import a former
/// state, see <c>DestinationActor</c>), a payload of another serializer, or any error reading
/// the file (the actors then report it their way).
/// </para>
/// </summary>
public static class SyncJournalFile
{
    /// <summary>What the file holds of one id: the state a recovery would give, and every event not deleted, oldest first.</summary>
    public sealed record Stored(SyncState State, ImmutableList<SyncEvent> Events);

    /// <summary>The answer to <paramref name="inspect"/> read from the journal file of <paramref name="settings"/>, or null (see the class).</summary>
    public static CommandReply? Answer(GeneralSettings settings, InspectSyncState inspect)
    {
        if (inspect.Action == SyncStateAction.Reset || inspect.Host is not null
            || ReadAll(settings, events: inspect.Action == SyncStateAction.History) is not { } read)
            return null;
        if (inspect.Action == SyncStateAction.List)
            return CommandReply.Of(new SyncStateListing([.. read.OrderBy(r => r.Destination, StringComparer.Ordinal).Select(r => r.Stored.State.Pending(r.Destination))]), true);
        return new CommandReply(ExitCode.Ok, SyncHistory.Combine(read.Select(r => (r.Destination, SyncHistory.Lines(r.Stored.Events, inspect.Since)))), []);
    }

    /// <summary>
    /// What the journal file of <paramref name="settings"/> holds of each destination, in their
    /// order; null when the journal is not a SQLite file (PostgreSQL), when there is no destination,
    /// when one has nothing stored, or when the file cannot be read (see the class).
    /// </summary>
    public static ImmutableList<(string Destination, Stored Stored)>? ReadAll(GeneralSettings settings, bool events)
    {
        var file = Path.Combine(settings.ConfigDir, PersistenceConfig.FileName);
        if (settings.Sync.PostgresJournal is not null || settings.Destinations.IsEmpty || !File.Exists(file))
            return null;
        var ids = settings.Destinations.Select(d => (d.Name, SyncIds.Of(settings.Cluster?.Host, d.Name)));
        try
        {
            using var connection = Open(file);
            var read = ImmutableList.CreateBuilder<(string, Stored)>();
            foreach (var (destination, id) in ids)
            {
                if (Read(connection, id, events) is not { } stored)
                    return null;
                read.Add((destination, stored));
            }

            return read.ToImmutable();
        }
        catch (Exception)
        {
            // Whatever a damaged or foreign file throws (a number out of range, a cast, a format):
            // the actors read it next, and report it their way.
            return null;
        }
    }

    /// <summary>
    /// Journals a sync of root on every destination of <paramref name="settings"/>, as each
    /// destination actor would persist it (<see cref="SyncRequested"/> of root, the next sequence
    /// number of its id, this serializer's payload), in one transaction of the SQLite journal file,
    /// before any actor system opened it: <c>sync --full</c> without a daemon may then upload what
    /// differs while its actors start (<see cref="UploadsAhead"/>), and a crash at any point from
    /// here leaves the sync pending. Only where <see cref="ReadAll"/> gives every destination's state
    /// (the rows are then the plugin's and this serializer's): false, writing nothing, otherwise or
    /// on any error. The caller holds the configuration directory's lock, and starts the actors
    /// (which recover these rows) only after this returned.
    /// </summary>
    public static bool RecordSyncOfRoot(GeneralSettings settings, DateTime now)
    {
        if (ReadAll(settings, events: false) is null)
            return false;
        var file = Path.Combine(settings.ConfigDir, PersistenceConfig.FileName);
        // The event the actor's own decision gives (its time to the second, as every event's).
        var requested = SyncState.Empty.Decide(new RequestSync(""), now).Events.Single();
        var payload = new SqliteFile.Payload(SyncSerializer.Encode(requested), SyncSerializer.ManifestOf(requested), SyncSerializer.Id);
        var writer = Guid.NewGuid().ToString("N");
        try
        {
            using var connection = Open(file, SqliteOpenMode.ReadWrite);
            using var transaction = connection.BeginTransaction();
            foreach (var destination in settings.Destinations)
            {
                var id = SyncIds.Of(settings.Cluster?.Host, destination.Name);
                // The next number, as a recovery gives it: after the journal's highest and the latest snapshot's.
                using var last = Command(connection, id,
                    "select max(n) from (select max(sequence_number) as n from journal where persistence_id = $id "
                    + "union all select max(sequence_number) from snapshot where persistence_id = $id)");
                last.Transaction = transaction;
                if (last.ExecuteScalar() is not long sequenceNr)
                    return false; // nothing stored: left to the actor (which may import a former state)
                SqliteFile.InsertEvent(connection, transaction, id, sequenceNr + 1, payload, writer, now.Ticks);
            }

            transaction.Commit();
            return true;
        }
        catch (Exception)
        {
            // Not written (a full disk, a file the plugin laid out otherwise): the actors journal it their way.
            return false;
        }
    }

    /// <summary>
    /// What <paramref name="file"/> holds of <paramref name="persistenceId"/>; null when it has no
    /// row of it at all. <paramref name="events"/>: also every event not deleted (the history),
    /// not only those after the snapshot.
    /// </summary>
    public static Stored? Read(string file, string persistenceId, bool events)
    {
        using var connection = Open(file);
        return Read(connection, persistenceId, events);
    }

    /// <summary>The journal file, opened apart from the plugin (no pooling; read-only unless asked).</summary>
    internal static SqliteConnection Open(string file, SqliteOpenMode mode = SqliteOpenMode.ReadOnly)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = file,
            Mode = mode,
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString());
        connection.Open();
        return connection;
    }

    private static Stored? Read(SqliteConnection connection, string persistenceId, bool events)
    {
        var state = SyncState.Empty;
        long after = 0;
        var any = false;
        using (var snapshot = Command(connection, persistenceId,
                   "select sequence_number, snapshot, manifest, serializer_id from snapshot where persistence_id = $id order by sequence_number desc limit 1"))
        using (var row = snapshot.ExecuteReader())
        {
            if (row.Read())
            {
                any = true;
                after = row.GetInt64(0);
                state = Payload(row, 1) as SyncState ?? throw new InvalidDataException("a snapshot that is not a sync state");
            }
        }

        var history = ImmutableList.CreateBuilder<SyncEvent>();
        using (var journal = Command(connection, persistenceId,
                   "select sequence_number, deleted, message, manifest, identifier from journal where persistence_id = $id order by sequence_number"))
        using (var row = journal.ExecuteReader())
        {
            while (row.Read())
            {
                any = true;
                var sequenceNr = row.GetInt64(0);
                if (row.GetBoolean(1) || (!events && sequenceNr <= after))
                    continue;
                var e = Payload(row, 2) as SyncEvent ?? throw new InvalidDataException("an event that is not a sync event");
                if (sequenceNr > after)
                    state = state.Apply(e);
                if (events)
                    history.Add(e);
            }
        }

        return any ? new Stored(state, history.ToImmutable()) : null;
    }

    private static SqliteCommand Command(SqliteConnection connection, string persistenceId, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$id", persistenceId);
        return command;
    }

    /// <summary>The payload at <paramref name="column"/> (see <see cref="SqliteFile.Stored"/>), which must be this serializer's, with its manifest.</summary>
    private static object Payload(SqliteDataReader row, int column)
    {
        var (bytes, manifest, id) = SqliteFile.Stored(row, column);
        if (id != SyncSerializer.Id)
            throw new InvalidDataException("a payload of another serializer");
        return SyncSerializer.Decode(bytes, manifest ?? throw new InvalidDataException("a payload without a manifest"));
    }
}
