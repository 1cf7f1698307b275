using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace BtwBackup.Sync;

/// <summary>
/// Writer locks in the PostgreSQL database that holds the journal: a session-level advisory lock
/// per persistence id, held by a connection of its own for as long as the actor writes. The
/// server releases it when that session ends, whether the process stopped, died or lost the
/// network, so a lock is never left behind; <see cref="IWriterLock.CheckAsync"/> tells the
/// holder when its session is gone. The connection is never pooled: a pooled connection given
/// back would keep its session, and the lock with it. Its application name says who holds it,
/// so that a refusal can name the holder.
/// </summary>
public sealed class PostgresWriterLocks(string connectionString, string owner) : IWriterLocks
{
    /// <summary>The first key of every btw-backup lock ("btwb"); the second is taken from the persistence id.</summary>
    public const int Space = 0x62747762;

    public static int Key(string persistenceId) => BinaryPrimitives.ReadInt32BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes(persistenceId)));

    public async Task<IWriterLock> AcquireAsync(string persistenceId, CancellationToken ct)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Pooling = false,
            // PostgreSQL keeps 63 bytes of it.
            ApplicationName = owner.Length > 63 ? owner[..63] : owner,
            KeepAlive = 10,
        };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(ct);
            var key = Key(persistenceId);
            await using (var take = new NpgsqlCommand("select pg_try_advisory_lock(@space, @key)", connection))
            {
                take.Parameters.AddWithValue("space", Space);
                take.Parameters.AddWithValue("key", key);
                if (await take.ExecuteScalarAsync(ct) is true)
                    return new Held(connection);
            }

            throw new WriterLockRefusedException($"{persistenceId} is written by another process ({await HolderAsync(connection, key, ct)}): "
                + "one process at a time writes a sync state; this one waits for it to stop");
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Who holds the lock, as pg_stat_activity knows the session: its application name, address and start.</summary>
    private static async Task<string> HolderAsync(NpgsqlConnection connection, int key, CancellationToken ct)
    {
        await using var who = new NpgsqlCommand("""
            select coalesce(nullif(a.application_name, ''), 'a session') || ' from ' || coalesce(host(a.client_addr), 'the local socket')
                   || ', since ' || to_char(a.backend_start at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC'
            from pg_locks l join pg_stat_activity a on a.pid = l.pid
            where l.locktype = 'advisory' and l.granted and l.objsubid = 2 and l.classid::bigint = @space and l.objid::bigint = @key
            """, connection);
        who.Parameters.AddWithValue("space", (long)(uint)Space);
        who.Parameters.AddWithValue("key", (long)(uint)key);
        return await who.ExecuteScalarAsync(ct) as string ?? "it stopped a moment ago";
    }

    private sealed class Held(NpgsqlConnection connection) : IWriterLock
    {
        public async Task CheckAsync(CancellationToken ct)
        {
            await using var ping = new NpgsqlCommand("select 1", connection);
            await ping.ExecuteScalarAsync(ct);
        }

        public ValueTask DisposeAsync() => connection.DisposeAsync();
    }
}
