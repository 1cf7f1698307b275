namespace BtwBackup.Platform;

/// <summary>
/// Writes to one file in the background, one after another in the order asked (so the newest
/// state lands last): each write's task fails when that write did, and the next ones still run.
/// <see cref="Flush"/> lets a process that is about to exit wait for them.
/// </summary>
public sealed class OrderedWrites
{
    private readonly Lock _gate = new();
    private Task _last = Task.CompletedTask;

    public Task Enqueue(Action write)
    {
        lock (_gate)
        {
            _last = _last.ContinueWith(_ => write(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            return _last;
        }
    }

    /// <summary>Waits (at most <paramref name="patience"/>) until every write asked so far has landed or failed.</summary>
    public void Flush(TimeSpan patience)
    {
        Task last;
        lock (_gate)
            last = _last;
        try
        {
            last.Wait(patience);
        }
        catch (AggregateException)
        {
            // Whoever asked for the write has its failure.
        }
    }
}
