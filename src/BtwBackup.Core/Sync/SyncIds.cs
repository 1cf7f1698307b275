namespace BtwBackup.Sync;

/// <summary>
/// The persistence id of a destination's sync state. A single node keeps the id it always had,
/// <c>destination-NAME</c>; a cluster node's is <c>sync/HOST/NAME</c>, so that the nodes of one
/// cluster can share one journal, each host writing its own. A host name holds no '/' (see
/// ClusterSettings), so the host and the destination of an id are never ambiguous.
/// </summary>
public static class SyncIds
{
    public static string Of(string? host, string destination) => host is null ? "destination-" + destination : HostPrefix(host) + destination;

    /// <summary>What every id of one host's sync states starts with.</summary>
    public static string HostPrefix(string host) => $"sync/{host}/";
}
