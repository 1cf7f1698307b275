using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using BtwBackup.Hosting;

namespace BtwBackup.Actors;

/// <summary>
/// One node per host name (/user/host-guard, on every cluster node): a host's sources, root and
/// sync state belong to one node, so when a second node comes up under a host name an older
/// member already has, the younger one leaves the cluster (its daemon then exits with
/// <see cref="Refusal"/>). Passes and statuses never mix two machines under one name.
/// </summary>
public sealed class HostGuard : ReceiveActor
{
    public const string Name = "host-guard";

    /// <summary>Why this node left the cluster on its own, for the daemon's last line; null while it has not.</summary>
    public static volatile string? Refusal;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _host;
    private bool _leaving;

    public HostGuard(string host)
    {
        _host = host;
        Receive<ClusterEvent.CurrentClusterState>(s => Check(s.Members));
        Receive<ClusterEvent.MemberUp>(_ => Check(Cluster.Get(Context.System).State.Members));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    public static Props Props(string host) => Akka.Actor.Props.Create(() => new HostGuard(host));

    protected override void PreStart() =>
        Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent));

    protected override void PostStop() => Cluster.Get(Context.System).Unsubscribe(Self);

    private void Check(IEnumerable<Member> members)
    {
        if (_leaving)
            return;
        var cluster = Cluster.Get(Context.System);
        var all = members.ToList();
        var self = all.FirstOrDefault(m => m.Address.Equals(cluster.SelfAddress));
        var twin = all.FirstOrDefault(m => !m.Address.Equals(cluster.SelfAddress) && m.Status == MemberStatus.Up && HostRole.HostOf(m.Roles) == _host
            && (self is null || self.Status != MemberStatus.Up || m.IsOlderThan(self)));
        if (twin is null)
            return;
        _leaving = true;
        Refusal = $"another node is already host {_host} in the cluster ({twin.Address.Host}:{twin.Address.Port}): this one left (give each node its own cluster.host)";
        _log.Error("cluster: {0}", Refusal);
        cluster.Leave(cluster.SelfAddress);
    }
}
