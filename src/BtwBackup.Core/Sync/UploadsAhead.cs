namespace BtwBackup.Sync;

/// <summary>
/// One destination's uploads that <c>sync --full</c> without a daemon starts while its actors
/// start (<see cref="Mirror.UploadAheadAsync"/>), once the sync of root is journaled
/// (<see cref="SyncJournalFile.RecordSyncOfRoot"/>). The actors' sync closes it when it begins
/// to upload (none is started after), waits until every started one has ended (so that it is the
/// only writer from then on), and joins each of them (<see cref="Mirror.Uploads"/>) rather than
/// sending the file again. Each is known by its key and the MD5 of the content it sends; a sync
/// that finds another MD5 for the file, or an upload that failed, sends it itself, and never takes
/// the listing's word for a key started ahead.
/// </summary>
public sealed class UploadsAhead
{
    private readonly Dictionary<string, (string Md5, Task<long> Upload)> _started = new(StringComparer.Ordinal);
    private bool _closed;

    /// <summary>How many uploads were started ahead.</summary>
    public int Started
    {
        get
        {
            lock (_started)
                return _started.Count;
        }
    }

    /// <summary>
    /// Starts <paramref name="upload"/> (its size once stored) as the upload of <paramref name="key"/>
    /// with content <paramref name="md5"/>; null, starting nothing, once closed or when one of that key was started.
    /// </summary>
    public Task<long>? Start(string key, string md5, Func<Task<long>> upload)
    {
        lock (_started)
        {
            if (_closed || _started.ContainsKey(key))
                return null;
            var task = Task.Run(upload);
            _started[key] = (md5, task);
            return task;
        }
    }

    /// <summary>Whether <see cref="Close"/> was called: nothing more will start.</summary>
    public bool Closed
    {
        get
        {
            lock (_started)
                return _closed;
        }
    }

    /// <summary>Whether an upload of <paramref name="key"/> was started ahead (whatever came of it): the listing taken before it no longer says what the server holds there.</summary>
    public bool Touched(string key)
    {
        lock (_started)
            return _started.ContainsKey(key);
    }

    /// <summary>The keys of the uploads started ahead.</summary>
    public IReadOnlyList<string> Keys
    {
        get
        {
            lock (_started)
                return [.. _started.Keys];
        }
    }

    /// <summary>Ends when every upload started ahead has ended, stored or not (call it after <see cref="Close"/>: none starts after).</summary>
    public Task WhenEnded()
    {
        List<Task<long>> uploads;
        lock (_started)
            uploads = [.. _started.Values.Select(u => u.Upload)];
        return Task.WhenAll(uploads.Select(u => u.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)));
    }

    /// <summary>No upload is started after this returns: the sync sends what was not.</summary>
    public void Close()
    {
        lock (_started)
            _closed = true;
    }

    /// <summary>The upload of <paramref name="key"/> started ahead, when it sends content of MD5 <paramref name="md5"/>; else null.</summary>
    public Task<long>? Of(string key, string md5)
    {
        lock (_started)
            return _started.TryGetValue(key, out var started) && started.Md5 == md5 ? started.Upload : null;
    }
}
