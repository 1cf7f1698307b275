namespace BtwBackup.Logging;

/// <summary>
/// How many lines a remoting actor system (the daemon's door, the CLI's client) may write per
/// minute: whatever a stranger on the port makes it log (refusals, broken connections, dropped
/// messages) stays within a few kilobytes a minute. What is held back is counted, and said in one
/// line before the first line of a later minute.
/// </summary>
public sealed class LogBudget(int linesPerMinute, Func<DateTimeOffset> clock)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private DateTimeOffset _windowStart = DateTimeOffset.MinValue;
    private int _written;
    private long _held;

    /// <summary>
    /// Whether one more line may be written now. <paramref name="heldBack"/> is, at the first line of
    /// a new minute, how many the last minutes held back (to be said before it), else 0.
    /// </summary>
    public bool TryTake(out long heldBack)
    {
        heldBack = 0;
        var now = clock();
        if (now - _windowStart >= Window)
        {
            heldBack = _held;
            _held = 0;
            _written = 0;
            _windowStart = now;
        }

        if (_written >= linesPerMinute)
        {
            _held++;
            return false;
        }

        _written++;
        return true;
    }
}
