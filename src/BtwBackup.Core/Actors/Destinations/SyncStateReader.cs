using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using BtwBackup.Hosting;
using BtwBackup.Protocol;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>A sync state read back from a journal: the state, and how many events made it (0: none ever written).</summary>
public sealed record SyncStateRead(string PersistenceId, SyncState State, long LastSequenceNr) : IMessage;

/// <summary>
/// Reads one sync state from the journal and stops: a recovery, never a write, so it may run
/// while another process writes that state (it then sees it as it was a moment ago). Used for
/// another host's state (<c>sync-state --list --host</c>) and for the state a destination had
/// under its former id (see <see cref="DestinationActor"/>). Answers
/// <see cref="SyncStateRead"/>, or <see cref="Status.Failure"/> when the journal cannot be read.
/// </summary>
public sealed class SyncStateReader : ReceivePersistentActor
{
    private readonly IActorRef _replyTo;
    private SyncState _state = SyncState.Empty;

    public SyncStateReader(string persistenceId, IActorRef replyTo)
    {
        PersistenceId = persistenceId;
        _replyTo = replyTo;
        Recover<SnapshotOffer>(o => _state = (SyncState)o.Snapshot);
        Recover<SyncEvent>(e => _state = _state.Apply(e));
        Recover<RecoveryCompleted>(_ =>
        {
            replyTo.Tell(new SyncStateRead(persistenceId, _state, LastSequenceNr));
            Context.Stop(Self);
        });
        CommandAny(_ => { });
    }

    public override string PersistenceId { get; }

    public static Props Props(string persistenceId, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new SyncStateReader(persistenceId, replyTo)).OnThisHost();

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _replyTo.Tell(new Status.Failure(reason));
        base.OnRecoveryFailure(reason, message);
    }
}

/// <summary>Sync states read from outside an actor.</summary>
public static class SyncStateReading
{
    /// <summary>Reads <paramref name="persistenceId"/> in <paramref name="system"/>'s journal, from a task.</summary>
    public static async Task<SyncStateRead> ReadAsync(ActorSystem system, string persistenceId, TimeSpan timeout)
    {
        using var inbox = Inbox.Create(system);
        system.ActorOf(SyncStateReader.Props(persistenceId, inbox.Receiver));
        return await inbox.ReceiveAsync(timeout) switch
        {
            SyncStateRead read => read,
            Status.Failure failure => throw new InvalidOperationException($"cannot read the sync state {persistenceId}: {failure.Cause.Message}", failure.Cause),
            var other => throw new InvalidOperationException("unexpected answer " + other),
        };
    }

    /// <summary>
    /// Reads <paramref name="persistenceId"/> in the SQLite journal <paramref name="file"/>, in an
    /// actor system of its own (a journal other than the one this process writes), stopped after.
    /// </summary>
    public static async Task<SyncStateRead> ReadSqliteAsync(string file, string persistenceId, TimeSpan timeout)
    {
        var config = ConfigurationFactory.ParseString("akka.loglevel = OFF\nakka.stdout-loglevel = OFF")
            .WithFallback(PersistenceConfig.ForSqlite(file, pooling: false));
        var system = ActorSystem.Create("btw-backup-former", config);
        try
        {
            return await ReadAsync(system, persistenceId, timeout);
        }
        finally
        {
            await system.Terminate();
        }
    }
}
