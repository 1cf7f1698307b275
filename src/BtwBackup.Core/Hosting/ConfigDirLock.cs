namespace BtwBackup.Hosting;

/// <summary>
/// One writer per configuration directory: an exclusive lock (flock, through FileShare.None) on
/// CONFIG_DIR/lock, held for the life of the command. The kernel releases it if the process dies.
/// </summary>
public sealed class ConfigDirLock : IDisposable
{
    public const string FileName = "lock";
    private readonly FileStream _stream;

    private ConfigDirLock(FileStream stream) => _stream = stream;

    public static ConfigDirLock? TryAcquire(string configDir)
    {
        Directory.CreateDirectory(configDir);
        var path = Path.Combine(configDir, FileName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return null;
        }

        try
        {
            // The locked file cannot be read by others: the holder's pid goes beside it.
            File.WriteAllText(path + ".pid", Environment.ProcessId + "\n");
            return new ConfigDirLock(stream);
        }
        catch
        {
            // Not held by a lock nobody can release: the error is the caller's.
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the lock; <paramref name="onWait"/> is told once that it waits.</summary>
    public static async Task<ConfigDirLock?> AcquireAsync(string configDir, TimeSpan timeout, Action onWait, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        var told = false;
        while (true)
        {
            if (TryAcquire(configDir) is { } acquired)
                return acquired;
            if (DateTime.UtcNow >= deadline)
                return null;
            if (!told)
            {
                onWait();
                told = true;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), ct);
        }
    }

    /// <summary>The pid of the process holding the lock, as it wrote it, or "unknown".</summary>
    public static string Holder(string configDir)
    {
        try
        {
            return File.ReadAllText(Path.Combine(configDir, FileName + ".pid")).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    public void Dispose() => _stream.Dispose();
}
