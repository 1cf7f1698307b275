using BtwBackup.Config;
using BtwBackup.Monitoring;
using BtwBackup.ObjectStore;
using BtwBackup.Protocol;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>
/// <c>sync</c> with no daemon when no destination has anything to do (and <c>sync --full</c> when,
/// besides, every destination is already equal to root: <see cref="AnswerFullAsync"/>): the
/// sync states in the SQLite journal (read as <see cref="SyncJournalFile"/> reads them) are all
/// empty, so the actors would transfer nothing and persist nothing. What they would write is
/// written here, the same way: each destination's last sync in status.json
/// (<see cref="PersistedStatus.Apply"/>) and its run in the run history
/// (<see cref="StatusKeeper.Runs"/>); the reply is theirs (nothing to say, exit 0). It saves the
/// half second an actor system with the persistence plugin takes to start, on every retry a
/// cron job makes.
/// <para>
/// Null (the caller then starts the actors) whenever the files alone cannot say that: a cluster
/// node, a journal in PostgreSQL, an encrypted destination (its manifest may be due), the
/// original's sync_state file (a destination actor sets it aside, saying why), a state the
/// journal file cannot give (see <see cref="SyncJournalFile.ReadAll"/>), anything pending or
/// planned, or a status.json that cannot be read or written (the actors then report it their
/// way). The caller holds the configuration directory's lock, as the actors' path does.
/// </para>
/// </summary>
public static class IdleSync
{
    /// <param name="warn">Told what the actors would warn of (an unreadable MD5 cache), and of a run history not written: never a failed sync.</param>
    public static async Task<CommandReply?> AnswerAsync(GeneralSettings settings, Action<string> warn)
    {
        var started = DateTime.UtcNow;
        if (!NothingPending(settings))
            return null;
        return await RecordAsync(settings, started, Md5Cache.Open(Path.Combine(settings.ConfigDir, Md5Cache.FileName)).Problem, warn);
    }

    /// <summary>
    /// <c>sync --full</c> with nothing pending, when every destination is already equal to root
    /// (<see cref="Mirror.UnchangedAsync"/>: by the listings taken ahead and the MD5s the cache
    /// knows, no file read): the actors would persist a sync of root requested then done, transfer
    /// nothing and delete nothing; the journal keeps what is pending, and nothing is. Recorded as
    /// <see cref="AnswerAsync"/> records. Null (the caller starts the actors, with the same
    /// listings) at the first thing that is not so, and whenever <see cref="AnswerAsync"/> would
    /// be null, or the MD5 cache (<paramref name="hashes"/>, the one the actors will share) could not be read.
    /// With <paramref name="readAheadUntil"/>, the files the cache cannot vouch for are read into it
    /// meanwhile (<see cref="Mirror.ReadAheadUntil"/>), until that token is cancelled.
    /// </summary>
    public static async Task<CommandReply?> AnswerFullAsync(GeneralSettings settings, Md5Cache hashes, Func<DestinationSettings, IObjectStore> stores,
        IReadOnlyDictionary<string, Task<List<RemoteObject>>> listings, Action<string> warn, CancellationToken ct, CancellationToken? readAheadUntil = null)
    {
        var started = DateTime.UtcNow;
        if (!Compares(settings, hashes, listings))
            return null;
        var unchanged = await Task.WhenAll(settings.Destinations.Select(d => AheadMirror(settings, d, hashes, stores, listings, readAheadUntil).UnchangedAsync(ct)));
        return unchanged.All(u => u) ? await RecordAsync(settings, started, null, warn) : null;
    }

    /// <summary>
    /// <c>sync --full</c> whose comparison (<see cref="AnswerFullAsync"/>) found work: journals the
    /// sync of root on every destination (<see cref="SyncJournalFile.RecordSyncOfRoot"/>), then
    /// starts uploading what differs on each (<see cref="Mirror.UploadAheadAsync"/>) while the
    /// actors start, until <paramref name="until"/> is cancelled. Returns those uploads by
    /// destination name, for the actors' mirrors to join (<see cref="Mirror.Uploads"/>); null,
    /// journaling and starting nothing, wherever <see cref="AnswerFullAsync"/> does not compare.
    /// Called before the actors start: they recover what this journaled.
    /// </summary>
    public static IReadOnlyDictionary<string, UploadsAhead>? StartUploadsAhead(GeneralSettings settings, Md5Cache hashes, Func<DestinationSettings, IObjectStore> stores,
        IReadOnlyDictionary<string, Task<List<RemoteObject>>> listings, CancellationToken until)
    {
        if (!Compares(settings, hashes, listings) || !SyncJournalFile.RecordSyncOfRoot(settings, DateTime.UtcNow))
            return null;
        var uploads = settings.Destinations.ToDictionary(d => d.Name, _ => new UploadsAhead(), StringComparer.Ordinal);
        foreach (var d in settings.Destinations)
        {
            var mirror = AheadMirror(settings, d, hashes, stores, listings, null);
            _ = Task.Run(() => mirror.UploadAheadAsync(uploads[d.Name], until), CancellationToken.None);
        }

        return uploads;
    }

    /// <summary>Whether the comparison without actors runs: a readable MD5 cache, a listing of every destination taken ahead, nothing pending.</summary>
    private static bool Compares(GeneralSettings settings, Md5Cache hashes, IReadOnlyDictionary<string, Task<List<RemoteObject>>> listings) =>
        hashes.Problem is null && settings.Destinations.All(d => listings.ContainsKey(d.Name)) && NothingPending(settings);

    /// <summary>A destination's mirror for the work done before the actors: the shared MD5 cache and the listing taken ahead.</summary>
    private static Mirror AheadMirror(GeneralSettings settings, DestinationSettings d, Md5Cache hashes, Func<DestinationSettings, IObjectStore> stores,
        IReadOnlyDictionary<string, Task<List<RemoteObject>>> listings, CancellationToken? readAheadUntil) =>
        new(stores(d), settings.RootPath, d.Prefix, settings.Sync.Parallelism) { Hashes = hashes, Ahead = listings[d.Name], ReadAheadUntil = readAheadUntil };

    /// <summary>
    /// No destination has anything pending, as the journal file says it: not for a cluster node, a
    /// journal in PostgreSQL, an encrypted destination, nor beside the original's sync_state file.
    /// </summary>
    private static bool NothingPending(GeneralSettings settings) =>
        settings.Cluster is null && !settings.Destinations.Any(d => d.Encrypted)
        && !File.Exists(Path.Combine(settings.ConfigDir, SyncState.LegacyFileName))
        && SyncJournalFile.ReadAll(settings, events: false) is { } read
        && read.All(r => r.Stored.State.IsEmpty);

    /// <summary>Writes what the actors write of a round that synced every destination: status.json, then the run history.</summary>
    /// <param name="cacheProblem">Why the MD5 cache could not be read: the actors say it when they open it, and so does this.</param>
    private static async Task<CommandReply?> RecordAsync(GeneralSettings settings, DateTime started, string? cacheProblem, Action<string> warn)
    {
        var file = new StatusFile(Path.Combine(settings.ConfigDir, StatusFile.FileName));
        var (status, unreadable, _) = file.TryLoad();
        if (unreadable is not null)
            return null;
        // As the destinations answer a round: by name.
        var synced = new DestinationsSynced(
            [.. settings.Destinations.Select(d => d.Name).Order(StringComparer.Ordinal).Select(name => new DestinationSync(name, []) { Started = started, Pending = 0 })],
            DateTime.UtcNow, 0);
        try
        {
            await file.SaveAsync(status.Apply(synced));
        }
        catch (Exception)
        {
            // Not written (a full disk, a value the serializer refuses): the actors try, and report it their way.
            return null;
        }

        if (cacheProblem is not null)
            warn("sync: " + cacheProblem);
        var runs = new RunHistory(Path.Combine(settings.ConfigDir, RunHistory.FileName), settings.Sync.HistoryWindow);
        // Two writes, as the status keeper makes them: a history that cannot be compacted still gets the run.
        await Written(runs.CompactAsync(DateTime.UtcNow), $"cannot rewrite the run history {runs.Path}", warn);
        await Written(runs.AppendAsync(StatusKeeper.Runs(synced)), $"cannot write the run history {runs.Path}", warn);
        return CommandReply.Ok();
    }

    private static async Task Written(Task write, string what, Action<string> warn)
    {
        try
        {
            await write;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warn($"{what}: {e.Message}");
        }
    }
}
