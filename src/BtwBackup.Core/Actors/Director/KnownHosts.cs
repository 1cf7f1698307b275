using System.Collections.Immutable;
using System.Text.Json;

namespace BtwBackup.Actors;

/// <summary>
/// CONFIG_DIR/cluster-hosts.json: every host this node has seen up, with the last time it saw
/// it come up, so that a host lost while every node was down (or before this node joined) is
/// still named by a pass after a restart. A host taken out for good is forgotten by removing its
/// line from this file on every node, then restarting their daemons.
/// </summary>
public static class KnownHosts
{
    public const string FileName = "cluster-hosts.json";

    /// <summary>The hosts of the file (none when it is absent); a file that cannot be read throws, saying what to do.</summary>
    public static ImmutableDictionary<string, DateTime> Load(string path)
    {
        if (!File.Exists(path))
            return ImmutableDictionary<string, DateTime>.Empty.WithComparers(StringComparer.Ordinal);
        try
        {
            var read = JsonSerializer.Deserialize<Dictionary<string, DateTime>>(File.ReadAllText(path))
                ?? throw new JsonException("null");
            return read.Where(kv => kv.Key.Length > 0)
                .ToImmutableDictionary(kv => kv.Key, kv => DateTime.SpecifyKind(kv.Value, DateTimeKind.Utc), StringComparer.Ordinal);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new IOException($"{path} cannot be read ({e.Message}): fix it, or remove it (the hosts seen up are then learned again)", e);
        }
    }

    /// <summary>Writes the file whole, through a temporary file renamed into place (a crash leaves the old one).</summary>
    public static void Save(string path, IReadOnlyDictionary<string, DateTime> hosts)
    {
        Platform.PrivateFile.Replace(path, w => w.Write(JsonSerializer.Serialize(hosts.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(kv => kv.Key, kv => kv.Value),
            new JsonSerializerOptions { WriteIndented = true })));
    }
}
