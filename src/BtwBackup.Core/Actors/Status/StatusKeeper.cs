using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using BtwBackup.Config;
using BtwBackup.Protocol;
using BtwBackup.Hosting;
using BtwBackup.Monitoring;

namespace BtwBackup.Actors;

/// <summary>A change of what <c>status</c> shows, told to the <see cref="StatusKeeper"/>.</summary>
public abstract record StatusChange : IMessage;

/// <summary>A source's job started: from now on the source is known (its type and series), never backed up yet.</summary>
public sealed record SourceStarted(string Source, string Type, string Dst) : StatusChange;

/// <summary>A source's job ended, backed up or failed (a failure is counted).</summary>
public sealed record SourceEnded(string Source, SourceRun Run) : StatusChange;

/// <summary>A sync round ended at <paramref name="At"/>; the keeper answers <see cref="StatusSaved"/> with <paramref name="Ack"/> once the file has it.</summary>
public sealed record DestinationsSynced(ImmutableList<DestinationSync> Syncs, DateTime At, long Ack) : StatusChange;

/// <summary>One destination's part of a round: no failure is a sync, else its failure lines.</summary>
public sealed record DestinationSync(string Destination, ImmutableList<string> Failures)
{
    /// <summary>When its round began; null: unknown (the run history then counts it as instant).</summary>
    public DateTime? Started { get; init; }

    public long BytesUploaded { get; init; }

    /// <summary>Paths still pending after it; null: unknown (it did not answer).</summary>
    public int? Pending { get; init; }
}

public sealed record StatusSaved(long Ack) : IMessage;

public sealed record GetStatus : IMessage;

/// <summary>The status as it is; <paramref name="Unreadable"/>: why status.json could not be read at start (the results are then unknown, not empty).</summary>
public sealed record StatusSnapshot(PersistedStatus Status, string? Unreadable) : IMessage;

/// <summary>
/// Owns CONFIG_DIR/status.json (/user/orchestrator/status): reads it once at start, applies
/// each <see cref="StatusChange"/> with the pure <see cref="PersistedStatus.Apply"/>, writes the
/// file in the background in order, and answers <see cref="GetStatus"/>. A file that cannot be
/// written is a warning in the log, never a failed backup. Without a file (tests) it keeps the
/// status in memory.
/// </summary>
public sealed class StatusKeeper : ReceiveActor
{
    public const string Name = "status";

    private readonly StatusFile? _file;
    private readonly RunHistory? _runs;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private PersistedStatus _status = PersistedStatus.Empty;
    private string? _unreadable;

    /// <summary>status.json could not be read nor moved aside: it is not written over.</summary>
    private bool _kept;

    public StatusKeeper(StatusFile? file, RunHistory? runs)
    {
        _file = file;
        _runs = runs;
        Receive<StatusChange>(change =>
        {
            _status = _status.Apply(change);
            Record(change);
            var saved = Save();
            if (change is DestinationsSynced synced)
            {
                var requester = Sender;
                saved.ContinueWith(_ => requester.Tell(new StatusSaved(synced.Ack)), TaskScheduler.Default);
            }
        });
        Receive<GetStatus>(_ => Sender.Tell(new StatusSnapshot(_status, _unreadable)));
    }

    public static Props Props(StatusFile? file, RunHistory? runs = null) => Akka.Actor.Props.Create(() => new StatusKeeper(file, runs)).OnThisHost();

    /// <summary>The runs a change ends, as the history keeps them.</summary>
    public static ImmutableList<RunRecord> Runs(StatusChange change) => change switch
    {
        SourceEnded e => [RunRecord.OfSource(e.Source, e.Run)],
        DestinationsSynced d => [.. d.Syncs.Select(s => new RunRecord(RunRecord.SyncKind, s.Destination, s.Started ?? d.At, d.At,
            s.Failures.IsEmpty ? RunRecord.Synced : SourceRun.Failed, null, s.BytesUploaded, s.Failures.IsEmpty ? null : s.Failures[0]))],
        _ => [],
    };

    private void Record(StatusChange change)
    {
        Telemetry.Record(change);
        if (_runs is not { } runs || Runs(change) is not { IsEmpty: false } ended)
            return;
        var log = _log;
        runs.AppendAsync(ended).ContinueWith(t =>
        {
            if (t.Exception?.InnerException is { } e)
                log.Warning("status: cannot write the run history {0}: {1}", runs.Path, e.Message);
        }, TaskScheduler.Default);
    }

    protected override void PreStart()
    {
        var log = _log;
        _runs?.CompactAsync(DateTime.UtcNow).ContinueWith(t =>
        {
            if (t.Exception?.InnerException is { } e)
                log.Warning("status: cannot rewrite the run history: {0}", e.Message);
        }, TaskScheduler.Default);
        // A few kilobytes, read before the first message: status must never answer from nothing.
        if (_file is null)
            return;
        (_status, _unreadable, var error) = _file.TryLoad();
        if (error is not null)
        {
            // What it holds may be all that is known of the sources' last results: never written over.
            try
            {
                var aside = _file.SetAside();
                _log.Warning("status: cannot read {0} ({1}): set aside as {2}, starting from nothing", _file.Path, error.Message, aside);
                _unreadable += $" (set aside as {Path.GetFileName(aside)})";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _kept = true;
                _log.Warning("status: cannot read {0} ({1}) nor set it aside ({2}): it is left as it is, and not written until it can be read", _file.Path, error.Message, e.Message);
            }

            return;
        }

        try
        {
            Telemetry.Seed(_status, _runs is null ? [] : RunHistory.Read(_runs.Path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Warning("status: cannot read the run history {0}: {1}", _runs!.Path, e.Message);
        }
    }

    /// <summary>The last runs and status land before the process ends (the in-process CLI exits right after its reply).</summary>
    protected override void PostStop()
    {
        _file?.Flush(TimeSpan.FromSeconds(5));
        _runs?.Flush(TimeSpan.FromSeconds(5));
        base.PostStop();
    }

    /// <summary>Writes status.json in the background (the file keeps the order); a failure is logged, never fatal.</summary>
    private Task Save()
    {
        if (_file is not { } file || _kept)
            return Task.CompletedTask;
        var log = _log;
        return file.SaveAsync(_status).ContinueWith(t =>
        {
            if (t.Exception?.InnerException is { } e)
                log.Warning("status: cannot write {0}: {1}", file.Path, e.Message);
        }, TaskScheduler.Default);
    }
}
