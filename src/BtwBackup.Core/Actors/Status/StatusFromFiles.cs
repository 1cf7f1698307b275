using System.Collections.Immutable;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.Protocol;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>
/// <c>status</c> with no daemon, from the files alone: status.json (as the
/// <see cref="StatusKeeper"/> reads it), the sync states in the SQLite journal (as
/// <see cref="SyncJournalFile"/> reads them) and the series under root, composed by
/// <see cref="StatusQuery.Report"/> as the actors would, without the half second an actor system
/// with the persistence plugin takes to start. Null (the caller then asks the actors) where the
/// files alone cannot say what the actors would: a cluster node (its view is the cluster's), a
/// journal in PostgreSQL, a sync state the journal file cannot give (see
/// <see cref="SyncJournalFile.ReadAll"/>).
/// </summary>
public static class StatusFromFiles
{
    /// <summary>How long the series are measured at most; as <see cref="StatusQuery"/>, a longer measure is left out.</summary>
    private static readonly TimeSpan MeasurePatience = TimeSpan.FromSeconds(3);

    public static CommandReply? Answer(GeneralSettings settings, DateTime now)
    {
        if (settings.Cluster is not null)
            return null;
        var states = ImmutableDictionary<string, SyncState>.Empty;
        if (!settings.Destinations.IsEmpty)
        {
            if (SyncJournalFile.ReadAll(settings, events: false) is not { } read)
                return null;
            states = read.ToImmutableDictionary(r => r.Destination, r => r.Stored.State, StringComparer.Ordinal);
        }

        var (status, unreadable, _) = new StatusFile(Path.Combine(settings.ConfigDir, StatusFile.FileName)).TryLoad();
        if (unreadable is not null)
            return StatusQuery.Unreadable(unreadable);
        var request = StatusRequest.Of(settings, new DaemonState(false, null, null, null, settings.Daemon.ScheduleText, settings.Daemon.NextRun(now)), []);
        var sources = StatusQuery.Sources(request, status);
        var measure = Task.Run(() => StatusQuery.Measure(settings.RootPath, sources));
        var usage = ImmutableDictionary<string, SeriesUsage>.Empty;
        try
        {
            if (measure.Wait(MeasurePatience))
                usage = measure.Result;
        }
        catch (AggregateException)
        {
            // As in StatusQuery: a series that cannot be measured shows no usage.
        }

        return CommandReply.Of(StatusQuery.Report(request, sources, status, states, ImmutableDictionary<string, int>.Empty, usage), ok: true);
    }
}
