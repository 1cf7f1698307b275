using System.Collections.Immutable;
using System.Net;
using System.Text.RegularExpressions;

namespace BtwBackup.Config;

/// <summary>A seed node's address, as written in cluster.seed-nodes ("host:port").</summary>
public sealed record SeedNode(string Hostname, int Port)
{
    public override string ToString() => $"{Hostname}:{Port}";
}

/// <summary>
/// The <c>cluster</c> block of btw-backup.conf: this node's host name, the address its cluster
/// transport binds and advertises, the seed nodes it joins, and the pinned TLS pair every node
/// of the cluster holds (holding its key is what admits a node). Null on GeneralSettings: a
/// single node, exactly as without the block.
/// </summary>
public sealed record ClusterSettings(string Host, string Hostname, int Port, string PublicHostname, ImmutableList<SeedNode> SeedNodes, Daemon.TlsSettings Tls)
{
    /// <summary>A host name as sources and status name it: letters, digits, '.', '-', '_'.</summary>
    private static readonly Regex HostName = new("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", RegexOptions.CultureInvariant);

    public static bool IsHostName(string host) => HostName.IsMatch(host);

    internal static ClusterSettings? Read(string path, string configDir, Func<string, string?> str, Func<string, int?> port)
    {
        // One string, comma-separated: the configuration syntax takes no lists (see HoconSyntax).
        var seeds = (str("cluster.seed-nodes") ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var certificate = str("cluster.tls.certificate");
        var key = str("cluster.tls.key");
        if (seeds.Length == 0)
        {
            // The block without seed nodes is no cluster; a half-written one is a mistake worth a line.
            if (str("cluster.hostname") is not null || certificate is not null || key is not null)
                throw new ConfigException($"{path}: cluster.seed-nodes is empty: name at least one seed node (\"host:port, host:port\"), or remove the cluster block");
            return null;
        }

        // Cluster traffic carries commands that run as root on every node: never without the cluster's pinned TLS, loopback included (other local users).
        if (certificate is null || key is null)
            throw new ConfigException($"{path}: cluster.tls needs certificate and key (PEM files, the same pair on every node): a cluster never runs without TLS");
        var hostname = str("cluster.hostname") ?? throw new ConfigException($"{path}: cluster.hostname is required: the address this node's cluster transport binds");
        var bind = port("cluster.port") ?? throw new ConfigException($"{path}: cluster.port is required");
        var host = str("cluster.host") ?? Environment.MachineName;
        if (!HostName.IsMatch(host))
            throw new ConfigException($"{path}: cluster.host must be a host name (letters, digits, '.', '-', '_'; at most 63), not '{host}'");
        return new ClusterSettings(host, hostname, bind, str("cluster.public-hostname") ?? hostname,
            [.. seeds.Select(s => Seed(s, path))], new Daemon.TlsSettings(Path.Combine(configDir, certificate), Path.Combine(configDir, key)));
    }

    private static SeedNode Seed(string text, string path)
    {
        var colon = text.LastIndexOf(':');
        if (colon > 0 && int.TryParse(text[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p)
            && p is >= 1 and <= 65535 && (Uri.CheckHostName(text[..colon]) != UriHostNameType.Unknown || IPAddress.TryParse(text[..colon], out _)))
            return new SeedNode(text[..colon], p);
        throw new ConfigException($"{path}: cluster.seed-nodes: '{text}' is not host:port (e.g. \"10.0.0.1:4719, 10.0.0.2:4719\")");
    }
}
