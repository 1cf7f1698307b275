using Akka.Configuration.Hocon;
using HoconConfig = Akka.Configuration.Config;

namespace BtwBackup.Config;

/// <summary>
/// A HOCON file as read: the parsed configuration (without any fallback) and the line of each
/// key as written, for messages that name the line.
/// </summary>
public sealed record HoconDocument(HoconConfig Config, string Path, IReadOnlyDictionary<string, int> KeyLines)
{
    /// <summary>"FILE:LINE" for a key written in the file, else "FILE".</summary>
    public string At(string key) => KeyLines.TryGetValue(key, out var line) ? $"{Path}:{line}" : Path;

    /// <summary>
    /// Reads settings from this file; a refusal "FILE: KEY ..." about a key written in it
    /// becomes "FILE:LINE: KEY ...", so that every message about a value names its line.
    /// </summary>
    public T Lined<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (ConfigException e) when (e.Message.StartsWith(Path + ": ", StringComparison.Ordinal))
        {
            var rest = e.Message[(Path.Length + 2)..];
            var end = rest.IndexOfAny([' ', ':']);
            var key = end < 0 ? rest : rest[..end];
            if (!KeyLines.TryGetValue(key, out var line))
                throw;
            throw new ConfigException($"{Path}:{line}: {rest}");
        }
    }
}

/// <summary>
/// Refuses every setting a file does not know: a typo (<c>max-incremental-cuont</c>) would
/// otherwise be silently ignored and the default policy used instead of the one written. Names
/// the file, the line and the nearest known key.
/// </summary>
public static class ConfigKeys
{
    /// <summary>The blocks of btw-backup.conf whose keys are names chosen by the user; their readers check what is inside.</summary>
    private static readonly HashSet<string> NamedBlocks = new(StringComparer.Ordinal) { "sources", "destinations" };

    /// <summary>btw-backup.conf: every key must be one of the embedded reference (hocon/btw-backup.conf).</summary>
    public static void CheckGeneral(HoconDocument doc, HoconConfig reference)
    {
        var known = new List<string>();
        Collect(reference.Root.GetObject(), "", known);
        Walk(doc, doc.Config.Root, reference.Root, "", known);
    }

    /// <summary>
    /// A flat file (source.conf, db/NAME.conf): every key one of <paramref name="allowed"/>, each a
    /// value, but for the <paramref name="blocks"/> (whose reader checks what is inside).
    /// </summary>
    public static void CheckFlat(HoconDocument doc, IReadOnlyCollection<string> allowed, IReadOnlyCollection<string>? blocks = null)
    {
        if (!doc.Config.Root.IsObject())
            return;
        foreach (var (key, value) in doc.Config.Root.GetObject().Items.OrderBy(kv => Line(doc, kv.Key)).ThenBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!allowed.Contains(key))
                throw Unknown(doc, key, allowed);
            if (value.IsObject() && blocks?.Contains(key) != true)
                throw new ConfigException($"{doc.At(key)}: {key} must be a value, not a block {{ }}");
        }
    }

    /// <summary>"unknown setting 'KEY' (did you mean NEAREST?)", the suggestion only when one is close.</summary>
    public static string UnknownMessage(string key, IEnumerable<string> known) =>
        Nearest(key, known) is { } near ? $"unknown setting '{key}' (did you mean {near}?)" : $"unknown setting '{key}'";

    /// <summary>The known key nearest to <paramref name="key"/> by edit distance, if it is near enough to be a typo.</summary>
    public static string? Nearest(string key, IEnumerable<string> known)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var k in known.Order(StringComparer.Ordinal))
        {
            var d = Distance(key, k);
            if (d < bestDistance)
                (best, bestDistance) = (k, d);
        }

        return best is not null && bestDistance <= Math.Max(2, key.Length / 3) ? best : null;
    }

    private static ConfigException Unknown(HoconDocument doc, string key, IEnumerable<string> known) =>
        new($"{doc.At(key)}: {UnknownMessage(key, known)}");

    private static int Line(HoconDocument doc, string key) => doc.KeyLines.TryGetValue(key, out var line) ? line : int.MaxValue;

    private static void Collect(HoconObject obj, string prefix, List<string> into)
    {
        foreach (var (key, value) in obj.Items)
        {
            into.Add(prefix + key);
            if (value.IsObject() && !NamedBlocks.Contains(prefix + key))
                Collect(value.GetObject(), prefix + key + ".", into);
        }
    }

    private static void Walk(HoconDocument doc, HoconValue user, HoconValue reference, string prefix, List<string> known)
    {
        if (!user.IsObject())
            return;
        // In the order written, so that the first problem of the file is the one reported.
        foreach (var (key, value) in user.GetObject().Items.OrderBy(kv => Line(doc, prefix + kv.Key)).ThenBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var path = prefix + key;
            var refItems = reference.GetObject().Items;
            if (!refItems.TryGetValue(key, out var refValue))
                throw Unknown(doc, path, known);
            if (refValue.IsObject())
            {
                if (!value.IsObject())
                {
                    if (IsNull(value) && NamedBlocks.Contains(path))
                        continue;
                    throw new ConfigException($"{doc.At(path)}: {path} must be a block {{ ... }}, not a value");
                }

                if (!NamedBlocks.Contains(path))
                    Walk(doc, value, refValue, path + ".", known);
            }
            else if (value.IsObject())
            {
                throw new ConfigException($"{doc.At(path)}: {path} must be a value, not a block {{ }}");
            }
        }
    }

    private static bool IsNull(HoconValue value)
    {
        try
        {
            return value.IsEmpty || value.GetString() is null or "null";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return false;
        }
    }

    /// <summary>Levenshtein distance.</summary>
    internal static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
            previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
