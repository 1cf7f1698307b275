using BtwBackup.Config;
using BtwBackup.Monitoring;
using BtwBackup.Protocol;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>
/// <c>sync</c> (not <c>--full</c>) with no daemon when no destination has anything to do: the
/// sync states in the SQLite journal (read as <see cref="SyncJournalFile"/> reads them) are all
/// empty, so the actors would transfer nothing and persist nothing. What they would write is
/// written here, the same way: each destination's last sync in status.json
/// (<see cref="PersistedStatus.Apply"/>) and its run in the run history
/// (<see cref="StatusKeeper.Runs"/>); the reply is theirs (nothing to say, exit 0). It saves the
/// half second an actor system with the persistence plugin takes to start, on every retry a
/// cron job makes.
/// <para>
/// Null (the caller then starts the actors) whenever the files alone cannot say that: a cluster
/// node, a journal in PostgreSQL, an encrypted destination (its manifest may be due), a state
/// the journal file cannot give (see <see cref="SyncJournalFile.ReadAll"/>), anything pending or
/// planned, or a status.json that cannot be read or written (the actors then report it their
/// way). The caller holds the configuration directory's lock, as the actors' path does.
/// </para>
/// </summary>
public static class IdleSync
{
    /// <param name="warn">Told of what was not written once status.json was (the run history): never a failed sync.</param>
    public static async Task<CommandReply?> AnswerAsync(GeneralSettings settings, Action<string> warn)
    {
        var started = DateTime.UtcNow;
        if (settings.Cluster is not null || settings.Destinations.Any(d => d.Recipients is { Count: > 0 })
            || SyncJournalFile.ReadAll(settings, events: false) is not { } read
            || read.Any(r => !r.Stored.State.IsEmpty))
            return null;

        var file = new StatusFile(Path.Combine(settings.ConfigDir, StatusFile.FileName));
        var (status, unreadable, _) = file.TryLoad();
        if (unreadable is not null)
            return null;
        var synced = new DestinationsSynced(
            [.. settings.Destinations.Select(d => new DestinationSync(d.Name, []) { Started = started, Pending = 0 })], DateTime.UtcNow, 0);
        try
        {
            await file.SaveAsync(status.Apply(synced));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        var runs = new RunHistory(Path.Combine(settings.ConfigDir, RunHistory.FileName), settings.Sync.HistoryWindow);
        try
        {
            await runs.CompactAsync(DateTime.UtcNow);
            await runs.AppendAsync(StatusKeeper.Runs(synced));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warn($"cannot write the run history {runs.Path}: {e.Message}");
        }

        return CommandReply.Ok();
    }
}
