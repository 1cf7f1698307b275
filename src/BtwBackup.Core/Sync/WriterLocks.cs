namespace BtwBackup.Sync;

/// <summary>
/// One process at a time writes a persistent sync state. A shared SQL journal does not ensure
/// it (two writers of one id each act on their own view until a sequence number collides), so
/// the process takes this lock before it starts the actor, and gives it up when the actor is
/// gone. Where the journal is a file of the configuration directory, that directory's lock
/// already keeps a second process out and no writer lock is taken.
/// </summary>
public interface IWriterLocks
{
    /// <summary>The lock of <paramref name="persistenceId"/>; <see cref="WriterLockRefusedException"/> when another process holds it.</summary>
    Task<IWriterLock> AcquireAsync(string persistenceId, CancellationToken ct);
}

/// <summary>A held lock; disposed, it is released.</summary>
public interface IWriterLock : IAsyncDisposable
{
    /// <summary>Throws when the lock is not held any more (its connection to the database was lost).</summary>
    Task CheckAsync(CancellationToken ct);
}

/// <summary>Another process writes this sync state; the message names it.</summary>
public sealed class WriterLockRefusedException(string message) : Exception(message);
