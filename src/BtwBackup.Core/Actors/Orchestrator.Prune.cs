using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.Protocol;
using BtwBackup.Retention;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary><c>prune</c>: retention applied, each destination told first, then a sync of what changed.</summary>
public sealed partial class Orchestrator
{
    private sealed record Pruned(IActorRef ReplyTo, ImmutableList<SeriesPrune> Series, bool Json, CommandReply? Failure = null);

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

        var settings = _services.Settings;
        var dsts = prune.Dsts.Count > 0
            ? prune.Dsts.Select(d => SeriesPath.Check(d)).ToList()
            : settings.Sources.Select(s => s.Dst).Where(d => settings.RetentionOf(d) is not null).Distinct().ToList();
        if (dsts.Count == 0)
        {
            Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + "no configured source has a retention policy: nothing to prune "
                + "(set defaults.retention, or retention in a source, in btw-backup.conf; or name the series: prune DST)"]));
            return;
        }

        if (dsts.FirstOrDefault(d => settings.RetentionOf(d) is null) is { } without)
        {
            Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + $"{without} has no retention policy: every point is kept, nothing was pruned "
                + "(set defaults.retention, or retention in the source of this dst, in btw-backup.conf)"]));
            return;
        }

        var destinations = Destinations;
        Func<ImmutableList<PendingPath>, CancellationToken, Task>? announce = destinations.Count == 0 || prune.DryRun
            ? null
            : (paths, ct) => RecordEverywhereAsync(destinations, paths,
                "a destination did not record the planned deletions in time (see the log): nothing was pruned", ct);
        var pruner = _services.Lister.Pruner;
        var root = settings.RootPath;
        var replyTo = Sender;
        PruneAllAsync(pruner, root, dsts, settings, prune.DryRun, announce).PipeTo(Self,
            success: series => new Pruned(replyTo, series, prune.Json),
            failure: e => new Pruned(replyTo, [], prune.Json, CommandReply.Failed(ErrorReport.Lines(e))));
    }

    private static async Task<ImmutableList<SeriesPrune>> PruneAllAsync(Pruner pruner, string root, List<string> dsts, GeneralSettings settings, bool dryRun,
        Func<ImmutableList<PendingPath>, CancellationToken, Task>? announce)
    {
        var done = ImmutableList.CreateBuilder<SeriesPrune>();
        foreach (var dst in dsts)
            done.Add(await pruner.PruneAsync(new SeriesLocation(root, dst), settings.RetentionOf(dst)!, dryRun, announce, CancellationToken.None));
        return done.ToImmutable();
    }

    private void Finish(Pruned pruned)
    {
        if (pruned.Failure is { } failure)
        {
            // What was pruned before the failure is journaled at the destinations: the next sync sends it.
            pruned.ReplyTo.Tell(failure);
            return;
        }

        var reply = CommandReply.Ok([.. pruned.Json ? [PruneJson(pruned.Series)] : PruneText(pruned.Series)]);
        var changed = pruned.Series.Where(s => !s.DryRun && !s.Plan.Steps.IsEmpty).Select(s => new PendingPath(s.Dst, Sync: true)).ToImmutableList();
        if (changed.IsEmpty || DestinationList.Count == 0)
            pruned.ReplyTo.Tell(reply);
        else
            Context.ActorOf(SyncRound.Props(_draining ? [] : Destinations, changed, new ReplyWith(pruned.ReplyTo, reply)));
    }

    private static IEnumerable<string> PruneText(ImmutableList<SeriesPrune> series)
    {
        foreach (var s in series)
        {
            var removed = s.Plan.Removed.Count();
            var kept = s.Plan.Points.Count - removed;
            yield return s.DryRun
                ? $"{s.Dst}: would remove {removed} point(s) and keep {kept} (dry run: nothing changed)"
                : $"{s.Dst}: removed {removed} point(s), kept {kept}";
            foreach (var line in s.Plan.Lines())
                yield return "  " + line;
        }
    }

    private static string PruneJson(ImmutableList<SeriesPrune> series) =>
        JsonSerializer.Serialize(new
        {
            series = series.Select(s => new
            {
                dst = s.Dst,
                dry_run = s.DryRun,
                removed = s.Plan.Removed.Count(),
                kept = s.Plan.Points.Count(p => p.Kept),
                points = s.Plan.Points.Select(p => new { name = p.Point.Name, full_backup = p.Point.Chain, kept = p.Kept, reasons = p.Reasons }),
            }),
        }, new JsonSerializerOptions { WriteIndented = true });
}
