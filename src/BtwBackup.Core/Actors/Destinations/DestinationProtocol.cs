using BtwBackup.Sync;
using System.Collections.Immutable;
using BtwBackup.Backup;

using BtwBackup.Protocol;

namespace BtwBackup.Actors;

/// <summary>A destination's reply to one of its requests, matched by <see cref="Correlation"/>.</summary>
public interface IDestinationReply : IMessage
{
    long Correlation { get; }

    string Destination { get; }
}

/// <summary>Record paths that the destination must learn about; acknowledged once persisted.</summary>
public sealed record RecordPending(long Correlation, ImmutableList<PendingPath> Paths) : IMessage;

public sealed record PendingRecorded(long Correlation, string Destination) : IDestinationReply;

/// <summary>Push and sync everything pending now; <paramref name="AllowDeletes"/>: sync --allow-deletes (past <see cref="DeletionGuard"/>'s limits).</summary>
public sealed record RunSync(long Correlation, bool AllowDeletes = false) : IMessage;

/// <summary>The outcome of a sync run: what moved, which paths failed (each with one line), what is still pending.</summary>
public sealed record SyncFinished(long Correlation, string Destination, TransferReport Report, ImmutableList<string> Failures, SyncState Pending) : IDestinationReply;

public sealed record GetSyncState(long Correlation) : IMessage;

public sealed record SyncStateReport(long Correlation, string Destination, SyncState State) : IDestinationReply;

/// <summary>sync-state --reset; refused while anything is pending.</summary>
public sealed record ResetSyncState(long Correlation) : IMessage;

public sealed record ResetDone(long Correlation, string Destination, string? Refusal) : IDestinationReply;
