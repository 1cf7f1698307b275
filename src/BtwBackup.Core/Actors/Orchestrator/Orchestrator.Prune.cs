using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.Protocol;
using BtwBackup.Retention;
using BtwBackup.Sync;
using BtwBackup.Tools;

namespace BtwBackup.Actors;

/// <summary><c>prune</c>: retention applied, each destination told first, then a sync of what changed.</summary>
public sealed partial class Orchestrator
{
    private sealed record Pruned(IActorRef ReplyTo, ImmutableList<SeriesPrune> Series, bool DryRun) : IMessage;

    private void Prune(PruneSeries prune)
    {
        if (!CheckDsts(prune.Dsts))
            return;
        // rdiff-backup must never work twice on one repository at once (the daemon's passes).
        if (!prune.DryRun && (_pass is not null || _jobs.Count > 0))
        {
            Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + "backups are running: prune when they have ended (status shows them); nothing was pruned"]));
            return;
        }

        if (!prune.DryRun && _pruning)
        {
            Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + "a prune is already running: wait for it; nothing was pruned"]));
            return;
        }

        var settings = _services.Settings;
        var replyTo = Sender;
        // Which series, and whether each has a policy, may take db/DB.conf: decided in the task, never in the handler.
        StartPrune(() => PruneTargets(settings, prune.Dsts), prune.DryRun,
            series => new Pruned(replyTo, series, prune.DryRun), lines => new PruneRefused(replyTo, lines, prune.DryRun));
    }

    private sealed record PruneRefused(IActorRef ReplyTo, IReadOnlyList<string> Lines, bool DryRun) : IMessage;

    /// <summary>The series <c>prune</c> names, or without any every configured source's with a policy; refused when one has none.</summary>
    private static IReadOnlyList<string> PruneTargets(GeneralSettings settings, IReadOnlyList<string> named)
    {
        var dsts = named.Count > 0
            ? named.Select(d => SeriesPath.Check(d)).ToList()
            : settings.Sources.Select(s => s.Dst).Where(d => settings.RetentionOf(d) is not null).Distinct().ToList();
        if (dsts.Count == 0)
            throw new ConfigException("no configured source has a retention policy: nothing to prune "
                + "(set defaults.retention, or retention in a source, in btw-backup.conf; or name the series: prune DST)");
        if (dsts.FirstOrDefault(d => settings.RetentionOf(d) is null) is { } without)
            throw new ConfigException(NoPolicy(without) + ", nothing was pruned (set defaults.retention, or retention in the source of this dst, in btw-backup.conf)");
        return dsts;
    }

    private static string NoPolicy(string dst) => $"{dst} has no retention policy: every point is kept";

    /// <summary>
    /// Prunes the series <paramref name="targets"/> gives, in a task; no backup starts meanwhile
    /// (unless dry). Each series ends pruned or with its error; the others go on. The result
    /// comes back as <paramref name="done"/>, or as <paramref name="refused"/> when the targets
    /// cannot be decided.
    /// </summary>
    private void StartPrune(Func<IReadOnlyList<string>> targets, bool dryRun, Func<ImmutableList<SeriesPrune>, IMessage> done, Func<IReadOnlyList<string>, IMessage> refused)
    {
        var destinations = DestinationsRef;
        Func<ImmutableList<PendingPath>, CancellationToken, Task>? announce = destinations is null || dryRun
            ? null
            : (paths, ct) => Actors.Destinations.RecordAsync(destinations, paths,
                "a destination did not record the planned deletions in time (see the log): nothing was pruned", ct);
        if (!dryRun)
            _pruning = true;
        var (log, pruner, settings, ct) = (_log, _services.Lister.Pruner, _services.Settings, _stopping.Token);
        Task.Run(async () =>
            {
                IReadOnlyList<string> dsts;
                try
                {
                    dsts = targets();
                }
                catch (ConfigException e)
                {
                    return refused(ErrorReport.Lines(e));
                }

                return done(await PruneAllAsync(pruner, settings, dsts, dryRun, announce, log, ct));
            })
            .PipeTo(Self, failure: e =>
            {
                log.Error(e, "prune failed on an unexpected error");
                return refused(ErrorReport.Lines(e));
            });
    }

    private static async Task<ImmutableList<SeriesPrune>> PruneAllAsync(Pruner pruner, GeneralSettings settings, IReadOnlyList<string> dsts, bool dryRun,
        Func<ImmutableList<PendingPath>, CancellationToken, Task>? announce, ILoggingAdapter log, CancellationToken ct)
    {
        var done = ImmutableList.CreateBuilder<SeriesPrune>();
        foreach (var dst in dsts)
        {
            try
            {
                var policy = settings.RetentionOf(dst) ?? throw new ConfigException(NoPolicy(dst));
                var pruned = await pruner.PruneAsync(new SeriesLocation(settings.RootPath, dst), policy, dryRun, announce, ct);
                if (!dryRun)
                    log.Info("prune: {0}: removed {1} point(s): {2}", dst, pruned.Plan.Removed.Count(), string.Join(", ", pruned.Plan.Steps.Select(s => s.Name)));
                done.Add(pruned);
            }
            catch (Exception e) when (e is BackupException or ConfigException or ToolFailedException or IOException or UnauthorizedAccessException)
            {
                // What was pruned before the failure is journaled at the destinations: the next sync sends it.
                // A tool's failure says which series, and in the tool's own last words.
                var why = e is ToolFailedException tool
                    ? $"{dst}: {string.Join(" / ", tool.StderrLines(3).Append(tool.Message))}"
                    : e.Message;
                log.Warning("prune: {0}: {1}", dst, why);
                done.Add(SeriesPrune.Failed(dst, why));
            }
        }

        return done.ToImmutable();
    }

    private void Finish(Pruned pruned)
    {
        if (!pruned.DryRun)
            _pruning = false;
        var report = new PruneReport([.. pruned.Series.Select(s => new PrunedSeries(s.Dst, s.DryRun, s.Error,
            [.. s.Plan.Points.Select(p => new PrunedPoint(p.Point.Name, p.Point.Chain, p.Kept, p.Reasons))]))]);
        var reply = CommandReply.Of(report, pruned.Series.All(s => s.Error is null));
        var changed = Changed(pruned.Series);
        if (changed.IsEmpty || DestinationsRef is null)
            pruned.ReplyTo.Tell(reply);
        else
            Context.ActorOf(SyncRound.Props(SyncTarget, changed, new ReplyWith(pruned.ReplyTo, reply)));
        StartDeferredPass();
        CheckDrained();
    }

    private void Finish(PruneRefused refused)
    {
        if (!refused.DryRun)
            _pruning = false;
        refused.ReplyTo.Tell(CommandReply.Failed(refused.Lines));
        StartDeferredPass();
        CheckDrained();
    }

    /// <summary>The series a prune changed: each to sync (its planned deletions were journaled with it).</summary>
    private static ImmutableList<PendingPath> Changed(ImmutableList<SeriesPrune> series) =>
        series.Where(s => !s.DryRun && !s.Plan.Steps.IsEmpty).Select(s => new PendingPath(s.Dst, Sync: true)).ToImmutableList();

    /// <summary>retention.after-pass: a pass whose backups are done prunes its series (no other backup runs: the pass holds them).</summary>
    private void PruneForPass(PruneAfterPass request)
    {
        var pass = Sender;
        // A daemon that stops prunes nothing more: the next pass will.
        if (_draining)
        {
            pass.Tell(new PassPruned([], []));
            return;
        }

        // A backup a command started meanwhile (fs, db) is still writing its series: that one waits for the next pass.
        var busy = _services.Settings.Sources.Where(s => _jobs.Values.Any(j => j.Source == s.Name)).Select(s => s.Dst).ToHashSet(StringComparer.Ordinal);
        var skipped = request.Dsts.Where(busy.Contains)
            .Select(d => SeriesPrune.Failed(d, $"{d}: a backup of it was running: not pruned (the next pass prunes it)")).ToImmutableList();
        var dsts = request.Dsts.Where(d => !busy.Contains(d)).ToList();
        if (dsts.Count == 0)
            Self.Tell(new PrunedForPass(pass, skipped), pass);
        else
            StartPrune(() => dsts, dryRun: false, series => new PrunedForPass(pass, skipped.AddRange(series)),
                lines => new PrunedForPass(pass, skipped.AddRange(dsts.Select(d => SeriesPrune.Failed(d, string.Join(" ", lines))))));
    }

    private sealed record PrunedForPass(IActorRef Pass, ImmutableList<SeriesPrune> Series) : IMessage;

    private void Finish(PrunedForPass pruned)
    {
        _pruning = false;
        pruned.Pass.Tell(new PassPruned(
            [.. pruned.Series.Select(s => new PassPrune(s.Dst, s.Plan.Removed.Count(), s.Plan.Points.Count(p => p.Kept), s.Error))],
            Changed(pruned.Series)));
        CheckDrained();
    }

    /// <summary>A scheduled pass that came during a prune runs once it has ended.</summary>
    private void StartDeferredPass()
    {
        if (!_passDeferred || _draining)
            return;
        _passDeferred = false;
        _log.Info("schedule: the pass that waited for the prune starts");
        RunPass(new RunPass([], Json: false), ActorRefs.Nobody, null);
    }
}
