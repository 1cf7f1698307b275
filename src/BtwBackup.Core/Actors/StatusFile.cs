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
public static class StatusFile
{
    public const string FileName = "status.json";

    public static PersistedStatus Load(string path)
    {
        if (!File.Exists(path))
            return PersistedStatus.Empty;
        var loaded = JsonSerializer.Deserialize<PersistedStatus>(File.ReadAllText(path), SummaryFormat.Json)
            ?? throw new InvalidDataException($"{path} is empty");
        return new PersistedStatus(
            PersistedStatus.Empty.Sources.AddRange(loaded.Sources ?? PersistedStatus.Empty.Sources),
            PersistedStatus.Empty.Destinations.AddRange(loaded.Destinations ?? PersistedStatus.Empty.Destinations));
    }

    public static void Save(string path, PersistedStatus status)
    {
        var partial = path + ".partial";
        File.WriteAllText(partial, JsonSerializer.Serialize(status, SummaryFormat.Json));
        File.Move(partial, path, overwrite: true);
    }
}
