using System.Collections.Immutable;
using System.Text.Json;
using BtwBackup.Protocol;

namespace BtwBackup.Actors;

/// <summary>What <c>status</c> knows of a source between processes.</summary>
public sealed record SourceRecord(string Type, string? Dst, SourceRun? Last, int Restarts, string? LastFailure);

/// <summary>What <c>status</c> knows of a destination between processes.</summary>
public sealed record DestinationRecord(DateTime? LastSync, string? LastError, DateTime? LastErrorAt);

public sealed record PersistedStatus(ImmutableSortedDictionary<string, SourceRecord> Sources, ImmutableSortedDictionary<string, DestinationRecord> Destinations)
{
    public static readonly PersistedStatus Empty = new(ImmutableSortedDictionary<string, SourceRecord>.Empty.WithComparers(StringComparer.Ordinal),
        ImmutableSortedDictionary<string, DestinationRecord>.Empty.WithComparers(StringComparer.Ordinal));
}

/// <summary>
/// CONFIG_DIR/status.json: the last result of every source and destination, so that
/// <c>status</c> without a daemon (or after a restart of it) still knows. Written whole to a
/// temporary file and renamed: a crash leaves the previous version, never half of one.
/// </summary>
public sealed class StatusFile(string path)
{
    public const string FileName = "status.json";

    private readonly Lock _gate = new();
    private Task _last = Task.CompletedTask;

    public string Path { get; } = path;

    /// <summary>What the file holds; empty when there is none. Throws when it cannot be read or parsed.</summary>
    public PersistedStatus Load()
    {
        if (Directory.Exists(Path))
            throw new IOException("it is a directory, not a file");
        if (!File.Exists(Path))
            return PersistedStatus.Empty;
        var loaded = JsonSerializer.Deserialize<PersistedStatus>(File.ReadAllText(Path), SummaryFormat.Json)
            ?? throw new InvalidDataException($"{Path} is empty");
        return new PersistedStatus(
            PersistedStatus.Empty.Sources.AddRange(loaded.Sources ?? PersistedStatus.Empty.Sources),
            PersistedStatus.Empty.Destinations.AddRange(loaded.Destinations ?? PersistedStatus.Empty.Destinations));
    }

    /// <summary>
    /// Writes <paramref name="status"/> in the background, after every write asked before it
    /// (so the newest state lands last). The task fails when this write did; the next ones still run.
    /// </summary>
    public Task SaveAsync(PersistedStatus status)
    {
        lock (_gate)
        {
            _last = _last.ContinueWith(_ => Write(status), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            return _last;
        }
    }

    private void Write(PersistedStatus status)
    {
        var partial = Path + ".partial";
        File.WriteAllText(partial, JsonSerializer.Serialize(status, SummaryFormat.Json));
        File.Move(partial, Path, overwrite: true);
    }
}
