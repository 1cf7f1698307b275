using System.Collections.Immutable;
using Akka.Actor;
using BtwBackup.Backup;

using BtwBackup.Protocol;

namespace BtwBackup.Actors;

/// <summary>
/// Start one backup of the source. The reply goes to the sender, tagged with the job id.
/// <paramref name="Destinations"/>: where an increment is recorded before it is made (null: no destination).
/// </summary>
public sealed record StartBackup(long JobId, BackupJob Job, IActorRef? ProgressTo, IActorRef? Destinations = null) : IMessage;

public sealed record BackupCompleted(long JobId, string Source, BackupOutcome Outcome, TimeSpan Duration) : IMessage;

public sealed record BackupFailed(long JobId, string Source, ImmutableList<string> ErrorLines, TimeSpan Duration) : IMessage;

public sealed record GetSourceStatus : IMessage;

public sealed record SourceStatus(string Source, bool Busy) : IMessage;

/// <summary>Cancel the backup in flight (the daemon is stopping); it ends as failed, "interrupted", its partial files removed.</summary>
public sealed record CancelBackup : IMessage;
