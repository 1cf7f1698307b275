using System.Collections.Immutable;
using Akka.Actor;
using BtwBackup.Backup;
using BtwBackup.Protocol;

namespace BtwBackup.Actors;

/// <summary>One source of a pass: its job, or why there is none (its settings are wrong).</summary>
public sealed record PassItem(string Name, string Type, string Dst, BackupJob? Job, string? Error);

/// <summary>From a pass to the Orchestrator: run this job on its source; the result comes back to the pass.</summary>
public sealed record RunSourceJob(string Source, BackupJob Job, IActorRef? ProgressTo) : IMessage;

/// <summary>From a pass to the Orchestrator: every source is done, sync what they stored.</summary>
public sealed record SyncAfterPass(ImmutableList<PendingPath> Changed) : IMessage;

/// <summary>From a pass to the Orchestrator (retention.after-pass): every source is done, prune these series before the sync.</summary>
public sealed record PruneAfterPass(ImmutableList<string> Dsts) : IMessage;

/// <summary>From the Orchestrator to a pass: what the prune did, and the series it changed (to sync).</summary>
public sealed record PassPruned(ImmutableList<PassPrune> Series, ImmutableList<PendingPath> Changed) : IMessage;

/// <summary>From a pass to the Orchestrator: its summary (for the log) and its reply, which the Orchestrator sends once the pass is off its books (so a next run is never refused as "already running").</summary>
public sealed record PassFinished(PassSummary Summary, CommandReply Reply, IActorRef ReplyTo) : IMessage;

/// <summary>
/// One pass over the configured sources (a child of the Orchestrator): at most
/// <c>parallelism</c> backups at once, each on its own SourceActor; a failed source is noted
/// and the others go on. When all are done, one sync round for everything they stored, then
/// the summary to the requester and to the Orchestrator.
/// </summary>
public sealed class Pass : ReceiveActor
{
    private readonly DateTime _started = DateTime.UtcNow;
    private readonly Queue<PassItem> _waiting;
    private readonly Dictionary<string, PassItem> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SourceRun> _done = new(StringComparer.Ordinal);
    private readonly List<PendingPath> _changed = [];
    private readonly ImmutableList<PassItem> _items;
    private readonly int _parallelism;
    private readonly IActorRef _replyTo;
    private readonly IActorRef? _progressTo;
    private readonly ImmutableList<string> _prune;
    private ImmutableList<PassPrune> _pruned = [];

    public Pass(ImmutableList<PassItem> items, int parallelism, IActorRef replyTo, IActorRef? progressTo, ImmutableList<string>? prune = null)
    {
        _prune = prune ?? [];
        _items = items;
        _parallelism = parallelism;
        _replyTo = replyTo;
        _progressTo = progressTo;
        foreach (var refused in items.Where(i => i.Job is null))
            _done[refused.Name] = new SourceRun(SourceRun.Failed, null, refused.Error, _started, 0, 0);
        _waiting = new Queue<PassItem>(items.Where(i => i.Job is not null));

        Receive<BackupCompleted>(c => Finished(c.Source, PassRuns.Of(c), c.Outcome.Changed));
        Receive<BackupFailed>(f => Finished(f.Source, PassRuns.Of(f), []));
        Receive<PassPruned>(p =>
        {
            _pruned = p.Series;
            _changed.AddRange(p.Changed);
            Sync();
        });
        Receive<SyncRoundResult>(Synced);

        StartMore();
    }

    public static Props Props(ImmutableList<PassItem> items, int parallelism, IActorRef replyTo, IActorRef? progressTo, ImmutableList<string>? prune = null) =>
        Akka.Actor.Props.Create(() => new Pass(items, parallelism, replyTo, progressTo, prune));

    private void StartMore()
    {
        while (_running.Count < _parallelism && _waiting.TryDequeue(out var item))
        {
            _running[item.Name] = item;
            Context.Parent.Tell(new RunSourceJob(item.Name, item.Job!, _progressTo));
        }

        if (_running.Count > 0 || _waiting.Count > 0)
        {
            Report();
            return;
        }

        if (_prune.IsEmpty)
            Sync();
        else
        {
            _progressTo?.Tell(new ProgressReport("run", $"{_done.Count}/{_items.Count} done, pruning"));
            Context.Parent.Tell(new PruneAfterPass(_prune));
        }
    }

    private void Sync()
    {
        Report();
        Context.Parent.Tell(new SyncAfterPass([.. _changed]));
    }

    private void Finished(string source, SourceRun run, ImmutableList<PendingPath> changed)
    {
        if (!_running.Remove(source))
            return;
        _done[source] = run;
        _changed.AddRange(changed);
        StartMore();
    }

    private void Report()
    {
        if (_progressTo is null)
            return;
        var message = _running.Count > 0
            ? $"{_done.Count}/{_items.Count} done, backing up {string.Join(", ", _running.Keys.Order(StringComparer.Ordinal))}"
            : $"{_done.Count}/{_items.Count} done, syncing";
        _progressTo.Tell(new ProgressReport("run", message));
    }

    private void Synced(SyncRoundResult result)
    {
        var destinations = result.Finished
            .OrderBy(f => f.Destination, StringComparer.Ordinal)
            .Select(f => new DestinationRun(f.Destination, f.Report.Uploaded, f.Report.BytesUploaded, f.Report.Deleted,
                f.Pending.MustPush.Count + f.Pending.MustSync.Count, f.Failures))
            .ToImmutableList();
        destinations = destinations.AddRange(result.SilentLines.Select(s => new DestinationRun(s.Destination, 0, 0, 0, 0, [s.Line])))
            .Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        var summary = new PassSummary(_started, (DateTime.UtcNow - _started).TotalSeconds,
            [.. _items.Select(i => new PassSource(i.Name, i.Type, i.Dst, _done[i.Name]))],
            destinations) { Pruned = _pruned };
        Context.Parent.Tell(new PassFinished(summary, CommandReply.Of(summary, summary.Ok), _replyTo));
        Context.Stop(Self);
    }
}
