using System.Collections.Immutable;
using System.Text.Json;
using BtwBackup.Config;
using BtwBackup.Protocol;

namespace BtwBackup.Actors;

/// <summary>What <c>status</c> knows of a source between processes.</summary>
public sealed record SourceRecord(string Type, string? Dst, SourceRun? Last, int Restarts, string? LastFailure);

/// <summary>What <c>status</c> knows of a destination between processes.</summary>
public sealed record DestinationRecord(DateTime? LastSync, string? LastError, DateTime? LastErrorAt);

/// <summary>
/// The last result of every source and destination: what status.json holds. Pure: each
/// change returns the next status; the <see cref="StatusKeeper"/> keeps the current one and the file.
/// </summary>
public sealed record PersistedStatus(ImmutableSortedDictionary<string, SourceRecord> Sources, ImmutableSortedDictionary<string, DestinationRecord> Destinations)
{
    public static readonly PersistedStatus Empty = new(ImmutableSortedDictionary<string, SourceRecord>.Empty.WithComparers(StringComparer.Ordinal),
        ImmutableSortedDictionary<string, DestinationRecord>.Empty.WithComparers(StringComparer.Ordinal));

    /// <summary>A source's first job: known from now on, never backed up yet.</summary>
    public PersistedStatus Started(string source, string type, string dst) =>
        Sources.ContainsKey(source) ? this : this with { Sources = Sources.SetItem(source, new SourceRecord(type, dst, null, 0, null)) };

    public PersistedStatus Completed(string source, SourceRun run) => WithSource(source, r => r with { Last = run });

    /// <summary>A failure is the last result, and counts (status shows how often a source failed, and why the last time).</summary>
    public PersistedStatus Failed(string source, SourceRun run) => WithSource(source, r => r with { Last = run, Restarts = r.Restarts + 1, LastFailure = run.Error });

    /// <summary>A sync of one destination at <paramref name="now"/>: its last sync, or its first failure line (and how many more).</summary>
    public PersistedStatus Synced(string destination, IReadOnlyList<string> failures, DateTime now)
    {
        var before = Destinations.GetValueOrDefault(destination) ?? new DestinationRecord(null, null, null);
        var after = failures.Count == 0
            ? before with { LastSync = now }
            : before with { LastError = failures[0] + (failures.Count > 1 ? $" (and {failures.Count - 1} more)" : ""), LastErrorAt = now };
        return this with { Destinations = Destinations.SetItem(destination, after) };
    }

    /// <summary>The status after <paramref name="change"/>.</summary>
    public PersistedStatus Apply(StatusChange change) => change switch
    {
        SourceStarted s => Started(s.Source, s.Type, s.Dst),
        SourceEnded { Run.Ok: true } e => Completed(e.Source, e.Run),
        SourceEnded e => Failed(e.Source, e.Run),
        DestinationsSynced d => d.Syncs.Aggregate(this, (status, sync) => status.Synced(sync.Destination, sync.Failures, d.At)),
        _ => throw new ArgumentException("unknown change " + change.GetType().Name, nameof(change)),
    };

    private PersistedStatus WithSource(string source, Func<SourceRecord, SourceRecord> change) =>
        this with { Sources = Sources.SetItem(source, change(Sources.GetValueOrDefault(source) ?? new SourceRecord("?", null, null, 0, null))) };
}

/// <summary>
/// CONFIG_DIR/status.json: the last result of every source and destination, so that
/// <c>status</c> without a daemon (or after a restart of it) still knows. Written whole to a
/// temporary file and renamed: a crash leaves the previous version, never half of one.
/// </summary>
public sealed class StatusFile(string path)
{
    public const string FileName = "status.json";

    private readonly Platform.OrderedWrites _writes = new();

    /// <summary>The status last written whole; read and set only by the writes, one at a time.</summary>
    private PersistedStatus? _written;

    public string Path { get; } = path;

    /// <summary>What the file holds; empty when there is none. Throws when it cannot be read or parsed.</summary>
    public PersistedStatus Load()
    {
        if (Directory.Exists(Path))
            throw new IOException("it is a directory, not a file");
        if (!File.Exists(Path))
            return PersistedStatus.Empty;
        var loaded = JsonSerializer.Deserialize(File.ReadAllText(Path), Monitoring.StatusJson.Default.PersistedStatus)
            ?? throw new InvalidDataException($"{Path} is empty");
        return new PersistedStatus(
            PersistedStatus.Empty.Sources.AddRange(loaded.Sources ?? PersistedStatus.Empty.Sources),
            PersistedStatus.Empty.Destinations.AddRange(loaded.Destinations ?? PersistedStatus.Empty.Destinations));
    }

    /// <summary>
    /// What the file holds, or why it cannot be read (<see cref="Load"/>'s failure as a line for
    /// the administrator, and the exception for the log): the results are then unknown, not empty.
    /// </summary>
    public (PersistedStatus Status, string? Unreadable, Exception? Error) TryLoad()
    {
        try
        {
            return (Load(), null, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidDataException)
        {
            return (PersistedStatus.Empty, $"cannot read {Path}: " + e switch
            {
                UnauthorizedAccessException => "permission denied (run status as the user that runs the backups)",
                JsonException => "it is not the JSON btw-backup writes",
                _ => ConfigException.Reason(e),
            }, e);
        }
    }

    /// <summary>
    /// Moves a file that cannot be read aside, beside it (status.json.unreadable-TIME-PID), so that
    /// the next write loses nothing it held; returns where it went. Throws when it cannot be moved.
    /// </summary>
    public string SetAside()
    {
        var aside = $"{Path}.unreadable-{DateTime.UtcNow:yyyyMMdd'T'HHmmss'Z'}-{Environment.ProcessId}";
        if (Directory.Exists(Path))
            Directory.Move(Path, aside);
        else
            File.Move(Path, aside);
        return aside;
    }

    /// <summary>
    /// Writes <paramref name="status"/> in the background, after every write asked before it
    /// (so the newest state lands last), unless it is the very status this file last wrote whole
    /// (a backup command's sync round without destinations changes nothing): its task then ends
    /// with the writes before it, and a write that failed is tried again. The task fails when
    /// this write did; the next ones still run.
    /// </summary>
    public Task SaveAsync(PersistedStatus status) => _writes.Enqueue(() =>
    {
        if (ReferenceEquals(status, _written))
            return;
        Write(status);
        _written = status;
    });

    /// <summary>Waits (at most <paramref name="patience"/>) until every write asked so far has landed.</summary>
    public void Flush(TimeSpan patience) => _writes.Flush(patience);

    private void Write(PersistedStatus status)
    {
        Platform.PrivateFile.Replace(Path, w => w.Write(JsonSerializer.Serialize(status, Monitoring.StatusJson.Default.PersistedStatus)));
    }
}
