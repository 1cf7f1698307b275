using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using BtwBackup.Hosting;
using BtwBackup.Protocol;

namespace BtwBackup.Actors;

/// <summary>Asks the local <see cref="HostGuard"/> for the hosts the cluster has lost.</summary>
public sealed record LostHostsQuery : IMessage;

/// <summary>A host this node saw up, then unreachable, downed or gone from the cluster (<paramref name="How"/>), since when, and not back since.</summary>
public sealed record LostHost(string Host, DateTime Since, string How);

public sealed record LostHosts(ImmutableList<LostHost> Hosts) : IMessage;

/// <summary>
/// The hosts of the cluster as this node saw them (/user/host-guard, on every cluster node).
/// One node per host name: a host's sources, root and sync state belong to one node, so when a
/// second node comes up under a host name an older member already has, the younger one leaves
/// the cluster (its daemon then exits with <see cref="Refusal"/>). Passes and statuses never mix
/// two machines under one name. And the hosts lost: a host that became unreachable, was downed
/// (killed, cut off) or left (its daemon stopped) is remembered until a node of that host is up
/// again, so a pass tells that it was not backed up instead of leaving it out; and a host seen up
/// before this daemon started (<see cref="KnownHosts"/>, a file) is lost until it is up again.
/// The memory is this node's: the director asks the guard of its own node.
/// </summary>
public sealed class HostGuard : ReceiveActor
{
    public const string Name = "host-guard";

    /// <summary>Why this node left the cluster on its own, for the daemon's last line; null while it has not.</summary>
    public static volatile string? Refusal;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _host;
    private bool _leaving;

    private readonly Dictionary<string, (DateTime Since, string How)> _lost = new(StringComparer.Ordinal);

    private readonly string? _knownFile;
    private ImmutableDictionary<string, DateTime> _known = ImmutableDictionary<string, DateTime>.Empty;
    private bool _knownFileUnreadable;

    /// <param name="knownFile">Where the hosts seen up are kept across restarts (<see cref="KnownHosts"/>); null: in memory only.</param>
    public HostGuard(string host, string? knownFile)
    {
        _host = host;
        _knownFile = knownFile;
        Receive<ClusterEvent.CurrentClusterState>(s =>
        {
            SeenUp(s.Members.Where(m => m.Status == MemberStatus.Up), DateTime.UtcNow);
            foreach (var m in s.Unreachable)
                Lost(m, DateTime.UtcNow, "unreachable");
            Check(s.Members);
        });
        Receive<ClusterEvent.MemberUp>(up =>
        {
            SeenUp([up.Member], DateTime.UtcNow);
            Check(Cluster.Get(Context.System).State.Members);
        });
        Receive<ClusterEvent.UnreachableMember>(u => Lost(u.Member, DateTime.UtcNow, "unreachable"));
        Receive<ClusterEvent.ReachableMember>(r =>
        {
            if (HostRole.HostOf(r.Member.Roles) is { } h)
                _lost.Remove(h);
        });
        Receive<ClusterEvent.MemberDowned>(d => Lost(d.Member, DateTime.UtcNow, "downed"));
        // Left (its daemon stopped, crashed out, or was taken out) or removed: lost too, unless another node of that host is up
        // (a twin that left at once). A daemon that stops is what nothing must fail to notice; a host taken out for good is named
        // until the nodes restart (README).
        Receive<ClusterEvent.MemberExited>(e => LostUnlessUp(e.Member, DateTime.UtcNow, "left the cluster"));
        Receive<ClusterEvent.MemberRemoved>(r => LostUnlessUp(r.Member, DateTime.UtcNow, "left the cluster"));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<LostHostsQuery>(_ => Sender.Tell(new LostHosts([.. _lost.Select(kv => new LostHost(kv.Key, kv.Value.Since, kv.Value.How)).OrderBy(l => l.Host, StringComparer.Ordinal)])));
    }

    /// <summary>
    /// The hosts seen up before this daemon started and not up yet: lost until they come up
    /// ("not seen since" the last time this node saw them come up).
    /// </summary>
    protected override void PreStart()
    {
        if (_knownFile is not null)
        {
            try
            {
                _known = KnownHosts.Load(_knownFile);
            }
            catch (IOException e)
            {
                // Never written over: the hosts it holds are the administrator's to get back.
                _log.Error("cluster: {0}; it is left as it is, and the hosts seen up are kept in memory only until then", e.Message);
                _knownFileUnreadable = true;
            }

            foreach (var (h, seen) in _known.Where(kv => kv.Key != _host))
                _lost[h] = (seen, "not seen up");
        }

        Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
    }

    /// <summary>Members up: their hosts are no longer lost, and the file has them (written once for all of them).</summary>
    private void SeenUp(IEnumerable<Member> members, DateTime now)
    {
        var hosts = members.Select(m => HostRole.HostOf(m.Roles)).OfType<string>().ToList();
        if (hosts.Count == 0)
            return;
        foreach (var h in hosts)
        {
            _lost.Remove(h);
            _known = _known.SetItem(h, now);
        }

        if (_knownFile is null || _knownFileUnreadable)
            return;
        try
        {
            KnownHosts.Save(_knownFile, _known);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Warning("cluster: the hosts seen up could not be saved in {0}: {1}", _knownFile, e.Message);
        }
    }

    private void LostUnlessUp(Member member, DateTime now, string how)
    {
        var host = HostRole.HostOf(member.Roles);
        if (host is null || Cluster.Get(Context.System).State.Members.Any(m => m.Status == MemberStatus.Up && HostRole.HostOf(m.Roles) == host && !m.Address.Equals(member.Address)))
            return;
        Lost(member, now, how);
    }

    private void Lost(Member member, DateTime now, string how)
    {
        if (HostRole.HostOf(member.Roles) is { } h && h != _host && !_lost.ContainsKey(h))
            _lost[h] = (now, how);
    }

    /// <summary>Asks this node's guard for the lost hosts, the answer (none, if it does not answer within 3 s) to <paramref name="to"/>.</summary>
    public static void LostHostsTo(IActorContext context, IActorRef to) =>
        context.ActorSelection("/user/" + Name).Ask<LostHosts>(new LostHostsQuery(), TimeSpan.FromSeconds(3))
            .PipeTo(to, failure: _ => new LostHosts([]));

    public static Props Props(string host, string? knownFile) => Akka.Actor.Props.Create(() => new HostGuard(host, knownFile)).OnThisHost();

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
