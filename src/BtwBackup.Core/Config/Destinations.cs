using System.Collections.Immutable;
using BtwBackup.ObjectStore;
using HoconConfig = Akka.Configuration.Config;

namespace BtwBackup.Config;

/// <summary>An S3 location that mirrors root: a path P is stored at key <see cref="Prefix"/> + P.</summary>
public sealed record DestinationSettings(string Name, string Uri, string Prefix, S3Connection Connection)
{
    /// <summary>encryption.recipients: every object is stored encrypted to these (age); null: stored as it is.</summary>
    public ImmutableList<Crypto.AgeRecipient>? Recipients { get; init; }

    /// <summary>Whether what is stored there is encrypted (its sync state then also keeps an index and a manifest).</summary>
    public bool Encrypted => Recipients is { Count: > 0 };
}

/// <summary>How syncs run and how long the journal keeps its history.</summary>
public sealed record SyncSettings(int Parallelism, TimeSpan HistoryWindow, int SnapshotEvery)
{
    /// <summary><c>sync</c> of the embedded reference.</summary>
    public static SyncSettings Default => ConfigLoader.Builtin.Sync;

    /// <summary>Null: the embedded default, SQLite in the configuration directory. Else a PostgreSQL connection string.</summary>
    public string? PostgresJournal { get; init; }

    /// <summary>sync.max-delete: a sync that would delete more objects in one folder stops before deleting any (see DeletionGuard).</summary>
    public required int MaxDelete { get; init; }

    public override string ToString() => $"SyncSettings {{ Parallelism = {Parallelism}, HistoryWindow = {HistoryWindow}, SnapshotEvery = {SnapshotEvery}, Journal = {(PostgresJournal is null ? "sqlite" : "postgresql")} }}";
}

/// <summary>Reads destinations from btw-backup.conf, or the original's one destination from config.py.</summary>
internal static class DestinationsReader
{
    private static readonly ImmutableHashSet<string> Keys =
        ["uri", "s3cmd-config", "endpoint", "region", "access-key", "secret-key", "server-side-encryption", "payload-signing", "encryption"];

    public static ImmutableList<DestinationSettings> Read(HoconConfig config, string path)
    {
        var result = ImmutableList.CreateBuilder<DestinationSettings>();
        foreach (var name in ConfigLoader.BlockNames(config, "destinations", path, "destinations { NAME { uri = \"s3://BUCKET/PREFIX/\" } }"))
        {
            var where = $"{path}: destinations.{name}";
            var d = config.GetConfig("destinations." + SourcesReader.QuoteKey(name));
            if (d?.Root is not { } block || !block.IsObject())
                throw new ConfigException($"{where} must be a block: {{ uri = \"s3://BUCKET/PREFIX/\" }}");
            if (block.GetObject().Items.Keys.Except(Keys).Order(StringComparer.Ordinal).FirstOrDefault() is { } unknown)
                throw new ConfigException($"{where}: {ConfigKeys.UnknownMessage(unknown, Keys)}");
            string? Get(string key) => ConfigLoader.ReadString(d, key, path);
            var uri = Get("uri") ?? throw new ConfigException($"{where}: uri is required (s3://BUCKET/PREFIX/)");
            var sse = (Get("server-side-encryption") ?? "AES256") switch
            {
                "AES256" => true,
                "none" => false,
                var other => throw new ConfigException($"{where}: server-side-encryption must be AES256 or none, not '{other}'"),
            };
            var signPayload = (Get("payload-signing") ?? "auto") switch
            {
                "auto" => false,
                "always" => true,
                var other => throw new ConfigException($"{where}: payload-signing must be auto or always, not '{other}'"),
            };
            var s3cmd = Get("s3cmd-config") is { } file ? S3cmdConfig.Read(file) : null;
            var (bucket, prefix) = ParseUri(uri, where);
            if ((Get("region") ?? s3cmd?.Region) is { } region && !IsRegionName(region))
                throw new ConfigException($"{where}: region '{region}' is not an S3 region name (lower-case letters, digits and '-', e.g. eu-west-1)");
            result.Add(new DestinationSettings(name, uri, prefix, new S3Connection(
                bucket,
                Get("endpoint") ?? s3cmd?.Endpoint,
                Get("region") ?? s3cmd?.Region,
                Get("access-key") ?? s3cmd?.AccessKey,
                Get("secret-key") ?? s3cmd?.SecretKey,
                sse) { SignPayload = signPayload })
            {
                Recipients = block.GetObject().Items.ContainsKey("encryption") ? Recipients(d, path, where) : null,
            });
        }

        Disjoint(result, path);
        return result.ToImmutable();
    }

    /// <summary>An S3 region name: 1 to 64 lower-case ASCII letters, digits and '-'.</summary>
    private static bool IsRegionName(string region) =>
        region.Length is >= 1 and <= 64 && region.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');

    /// <summary>
    /// Two destinations in one bucket of one server must not overlap: each mirrors root under its
    /// prefix, so a sync of one would overwrite (maybe in clear, over the other's encryption) and
    /// delete what the other stored.
    /// </summary>
    private static void Disjoint(IReadOnlyList<DestinationSettings> destinations, string path)
    {
        for (var i = 0; i < destinations.Count; i++)
        {
            for (var j = i + 1; j < destinations.Count; j++)
            {
                var (a, b) = (destinations[i], destinations[j]);
                if (a.Connection.Bucket != b.Connection.Bucket || a.Connection.Endpoint != b.Connection.Endpoint)
                    continue;
                if (a.Prefix.StartsWith(b.Prefix, StringComparison.Ordinal) || b.Prefix.StartsWith(a.Prefix, StringComparison.Ordinal))
                {
                    var shorter = a.Prefix.Length <= b.Prefix.Length ? a.Prefix : b.Prefix;
                    throw new ConfigException($"{path}: destinations.{a.Name} and destinations.{b.Name} overlap in s3://{a.Connection.Bucket}/{shorter}: "
                        + "each mirrors root under its own prefix and would overwrite and delete what the other stores; give each its own bucket or a prefix outside the other's");
                }
            }
        }
    }

    /// <summary>
    /// <c>encryption { recipients = "age1..., age1..." }</c> (one string, comma-separated: the
    /// configuration syntax takes no lists): public keys only. A secret key written there by
    /// mistake is refused without being repeated.
    /// </summary>
    private static ImmutableList<Crypto.AgeRecipient> Recipients(HoconConfig d, string path, string where)
    {
        var block = d.GetConfig("encryption");
        if (block?.Root is not { } root || !root.IsObject())
            throw new ConfigException($"{where}.encryption must be a block: {{ recipients = \"age1...\" }}");
        if (root.GetObject().Items.Keys.FirstOrDefault(k => k != "recipients") is { } unknown)
            throw new ConfigException($"{where}.encryption: {ConfigKeys.UnknownMessage(unknown, ["recipients"])}");
        var text = ConfigLoader.ReadString(block, "recipients", path)
            ?? throw new ConfigException($"{where}.encryption: recipients is required (\"age1...\", from btw-backup keygen or age-keygen)");
        if (text.Contains("AGE-SECRET-KEY-", StringComparison.OrdinalIgnoreCase))
            throw new ConfigException($"{where}.encryption.recipients holds a secret key (AGE-SECRET-KEY-...): remove it from this file and from this host now, and give its recipient (age1...) instead");
        var recipients = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(r =>
        {
            try
            {
                return Crypto.AgeRecipient.Parse(r);
            }
            catch (Crypto.AgeKeyException e)
            {
                throw new ConfigException($"{where}.encryption.recipients: {e.Message}");
            }
        }).Distinct().ToImmutableList();
        return recipients.IsEmpty ? throw new ConfigException($"{where}.encryption.recipients is empty: give at least one (\"age1...\")") : recipients;
    }

    /// <summary>The original's S3_URI_PREFIX and S3CMD_CONFIG: one destination, "default".</summary>
    public static DestinationSettings Legacy(string uri, string s3cmdConfig)
    {
        var (bucket, prefix) = ParseUri(uri, "S3_URI_PREFIX");
        var s3cmd = S3cmdConfig.Read(s3cmdConfig);
        return new DestinationSettings("default", uri, prefix,
            new S3Connection(bucket, s3cmd.Endpoint, s3cmd.Region, s3cmd.AccessKey, s3cmd.SecretKey, ServerSideEncryption: true));
    }

    internal static (string Bucket, string Prefix) ParseUri(string uri, string where)
    {
        if (!uri.StartsWith("s3://", StringComparison.Ordinal) || uri.Length <= 5)
            throw new ConfigException($"{where}: not an S3 URI: '{uri}' (s3://BUCKET/PREFIX/)");
        var rest = uri[5..];
        var slash = rest.IndexOf('/');
        var bucket = slash < 0 ? rest : rest[..slash];
        var prefix = slash < 0 ? "" : rest[(slash + 1)..];
        if (bucket.Length == 0)
            throw new ConfigException($"{where}: no bucket in '{uri}'");
        // The original forced a final slash: the prefix names a folder.
        if (prefix.Length > 0 && !prefix.EndsWith('/'))
            prefix += "/";
        return (bucket, prefix);
    }
}

/// <summary>The parts of an s3cmd configuration file btw-backup uses: keys and endpoint.</summary>
public sealed record S3cmdConfig(string? AccessKey, string? SecretKey, string? Endpoint, string? Region)
{
    public override string ToString() => $"s3cmd config for {Endpoint ?? "AWS"}";

    public static S3cmdConfig Read(string path)
    {
        string[] lines;
        try
        {
            if (path.Any(char.IsControl))
                throw new IOException("the path holds control characters");
            if (Directory.Exists(path))
                throw new IOException("it is a directory");
            lines = ConfigLoader.ReadBoundedLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"cannot read the s3cmd configuration {path}: {ConfigException.Reason(e)}");
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            var eq = line.IndexOf('=');
            if (eq > 0 && !line.TrimStart().StartsWith('#') && !line.TrimStart().StartsWith('['))
                values[line[..eq].Trim()] = line[(eq + 1)..].Trim();
        }

        string? Get(string key) => values.TryGetValue(key, out var v) && v.Length > 0 ? v : null;
        var host = Get("host_base");
        var https = !string.Equals(Get("use_https"), "False", StringComparison.OrdinalIgnoreCase);
        var endpoint = host is null or "s3.amazonaws.com" ? null : (https ? "https://" : "http://") + host;
        var region = Get("bucket_location") is { } location && location != "US" ? location : null;
        return new S3cmdConfig(Get("access_key"), Get("secret_key"), endpoint, region);
    }
}
