using Akka.Configuration;
using BtwBackup.Config;
using Akka.Persistence.Sql;
using HoconConfig = Akka.Configuration.Config;

namespace BtwBackup.Hosting;

/// <summary>
/// The sync-state journal: Akka.Persistence.Sql on a SQLite file in the configuration directory
/// (the embedded default), with btw-backup's serializer for everything it persists.
/// </summary>
public static class PersistenceConfig
{
    public const string FileName = "sync-state.db";

    /// <summary>
    /// The tables and indexes the plugin makes in a SQLite file, each in a statement of its own
    /// (a run killed, or a disk that filled, between two of them leaves some made): with all of
    /// them there, it need not make them again. journal_uq is the unique (id, sequence number)
    /// that the one-writer rule below relies on.
    /// </summary>
    internal static readonly string[] SqliteSchema = [.. Sync.SqliteFile.Schema.Select(s => s.Name)];

    /// <summary>The journal in PostgreSQL (a shared journal, or a server that is backed up anyway).</summary>
    public static HoconConfig ForPostgres(string connectionString) => Build(HoconText.Quote(connectionString), "PostgreSQL.15", initialize: true);

    /// <param name="pooling">Off, every journal operation opens the file anew (tests that take the file away use it).</param>
    /// <param name="oneShot">
    /// For an actor system that serves one command and stops (the CLI without a daemon): the journal
    /// and snapshots go through <see cref="Sync.SqliteFileJournal"/>, which keeps the same rows (and
    /// makes the same tables where one is missing) without the plugin's start. The query journal (the
    /// history) stays the plugin's.
    /// </param>
    public static HoconConfig ForSqlite(string databaseFile, bool pooling = true, bool oneShot = false)
    {
        var connection = HoconText.Quote("Data Source=" + databaseFile + (pooling ? "" : ";Pooling=False"));
        var hasTables = HasTables(databaseFile);
        var plugin = Build(connection, "SQLite.MS", initialize: !hasTables);
        if (!oneShot)
            return plugin;
        return ConfigurationFactory.ParseString($$"""
            akka.persistence {
              journal {
                plugin = "akka.persistence.journal.btw-file"
                btw-file {
                  class = "BtwBackup.Sync.SqliteFileJournal, BtwBackup.Core"
                  # Its SQL runs on the actor's thread: one of its own, not the shared pool's.
                  plugin-dispatcher = "akka.persistence.journal.btw-file.dispatcher"
                  dispatcher.type = PinnedDispatcher
                  connection-string = {{connection}}
                  make-tables = {{(hasTables ? "off" : "on")}}
                  # As the plugin's, above: one writer per id is ensured by the lock and the unique index.
                  replay-filter.mode = off
                }
              }
              snapshot-store {
                plugin = "akka.persistence.snapshot-store.btw-file"
                btw-file {
                  class = "BtwBackup.Sync.SqliteFileSnapshotStore, BtwBackup.Core"
                  plugin-dispatcher = "akka.persistence.snapshot-store.btw-file.dispatcher"
                  dispatcher.type = PinnedDispatcher
                  connection-string = {{connection}}
                  make-tables = {{(hasTables ? "off" : "on")}}
                }
              }
              # The history's query asks the plugin's own journal whether it is up: that one then
              # starts (it writes nothing), and only for a history read through the actors.
              query.journal.sql.write-plugin = "akka.persistence.journal.sql"
            }
            """).WithFallback(plugin);
    }

    /// <summary>
    /// True when the SQLite file holds every table and index the plugin makes. The plugin's own check (its
    /// auto-initialize: a CREATE TABLE IF NOT EXISTS for each, built by linq2db) cost a quarter of
    /// a second of CPU on every start of an actor system (a sync --full of one rewritten 64 MiB
    /// file: 1.35 -> 1.10 s, medians of 5); it now runs only where one of them is missing (a new
    /// file, a run stopped while the plugin made them). False on any doubt.
    /// </summary>
    internal static bool HasTables(string databaseFile)
    {
        if (!File.Exists(databaseFile))
            return false;
        try
        {
            using var connection = Sync.SyncJournalFile.Open(databaseFile);
            using var count = connection.CreateCommand();
            var names = SqliteSchema.Select((_, i) => "$n" + i).ToList();
            count.CommandText = $"select count(*) from sqlite_master where type in ('table', 'index') and name in ({string.Join(", ", names)})";
            for (var i = 0; i < SqliteSchema.Length; i++)
                count.Parameters.AddWithValue(names[i], SqliteSchema[i]);
            return count.ExecuteScalar() is long n && n == SqliteSchema.Length;
        }
        catch (Exception)
        {
            // Not a database, or not readable: the plugin opens it next, and says why.
            return false;
        }
    }

    private static HoconConfig Build(string connection, string provider, bool initialize)
    {
        var autoInitialize = initialize ? "on" : "off";
        var text = $$"""
            akka.persistence {
              journal {
                plugin = "akka.persistence.journal.sql"
                sql {
                  connection-string = {{connection}}
                  provider-name = "{{provider}}"
                  auto-initialize = {{autoInitialize}}
                  # One writer per id is ensured by the writer lock and the journal's unique
                  # (id, sequence number): every stored event was written at the next number by a
                  # writer that had recovered all before it. Akka's replay filter would instead drop
                  # the events of a writer id it saw before another, silently losing acknowledged
                  # work after a lock was lost and taken again.
                  replay-filter.mode = off
                }
              }
              snapshot-store {
                plugin = "akka.persistence.snapshot-store.sql"
                sql {
                  connection-string = {{connection}}
                  provider-name = "{{provider}}"
                  auto-initialize = {{autoInitialize}}
                }
              }
              query.journal.sql {
                connection-string = {{connection}}
                provider-name = "{{provider}}"
              }
            }
            akka.actor {
              serializers.btw-sync = "BtwBackup.Sync.SyncSerializer, BtwBackup.Core"
              serialization-bindings {
                "BtwBackup.Sync.SyncEvent, BtwBackup.Core" = btw-sync
                "BtwBackup.Sync.SyncState, BtwBackup.Core" = btw-sync
              }
              serialization-identifiers {
                "BtwBackup.Sync.SyncSerializer, BtwBackup.Core" = {{BtwBackup.Sync.SyncSerializer.Id}}
              }
            }
            """;
        // The plugin does not load its own defaults.
        return ConfigurationFactory.ParseString(text).WithFallback(SqlPersistence.DefaultConfiguration);
    }
}
