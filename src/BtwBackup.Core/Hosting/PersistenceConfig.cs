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

    /// <summary>The journal in PostgreSQL (a shared journal, or a server that is backed up anyway).</summary>
    public static HoconConfig ForPostgres(string connectionString) => Build(HoconText.Quote(connectionString), "PostgreSQL.15");

    /// <param name="pooling">Off, every journal operation opens the file anew (tests that take the file away use it).</param>
    public static HoconConfig ForSqlite(string databaseFile, bool pooling = true)
    {
        var connection = HoconText.Quote("Data Source=" + databaseFile + (pooling ? "" : ";Pooling=False"));
        return Build(connection, "SQLite.MS");
    }

    private static HoconConfig Build(string connection, string provider)
    {
        var text = $$"""
            akka.persistence {
              journal {
                plugin = "akka.persistence.journal.sql"
                sql {
                  connection-string = {{connection}}
                  provider-name = "{{provider}}"
                  auto-initialize = on
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
                  auto-initialize = on
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
