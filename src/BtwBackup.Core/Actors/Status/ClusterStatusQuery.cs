using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using BtwBackup.Hosting;
using BtwBackup.Protocol;

namespace BtwBackup.Actors;

/// <summary>Asks another host's Orchestrator for its own status (its sources and destinations), as <c>status</c> on any node of a cluster does.</summary>
public sealed record HostStatusQuery : IMessage;

/// <summary>
/// <c>status</c> on a node of a cluster: this node's own status (a <see cref="StatusQuery"/>),
/// then every other host's, asked of its Orchestrator with a deadline, and the hosts the cluster
/// lost (from this node's <see cref="HostGuard"/>). A host that is unreachable, or does not
/// answer in time, is one line in the reply, never a wait.
/// </summary>
public sealed class ClusterStatusQuery : ReceiveActor
{
    /// <summary>How long another host may take to give its status.</summary>
    public static readonly TimeSpan HostPatience = TimeSpan.FromSeconds(10);

    private readonly IActorRef _replyTo;
    private readonly Dictionary<string, HostStatus> _hosts = new(StringComparer.Ordinal);
    private readonly HashSet<string> _waiting = new(StringComparer.Ordinal);
    private CommandReply? _own;
    private bool _lostKnown;

    public ClusterStatusQuery(StatusRequest request, IActorRef keeper, IActorRef? destinations, IActorRef replyTo)
    {
        _replyTo = replyTo;
        Receive<CommandReply>(own =>
        {
            _own = own;
            ReplyWhenDone();
        });
        Receive<HostAnswered>(a =>
        {
            _waiting.Remove(a.Host);
            _hosts[a.Host] = a.Reply.Report is StatusReport status
                ? new HostStatus(a.Host, status, null)
                : new HostStatus(a.Host, null, a.Reply.Stderr.Select(ErrorReport.Bare).FirstOrDefault() ?? "no status");
            ReplyWhenDone();
        });
        Receive<LostHosts>(lost =>
        {
            foreach (var l in lost.Hosts.Where(l => !_hosts.ContainsKey(l.Host) && !_waiting.Contains(l.Host)))
                _hosts[l.Host] = new HostStatus(l.Host, null, $"{l.How} since {SummaryFormat.Time(l.Since)}");
            _lostKnown = true;
            ReplyWhenDone();
        });

        Context.ActorOf(StatusQuery.Props(request, keeper, destinations, Self));
        var cluster = Cluster.Get(Context.System);
        var state = cluster.State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        foreach (var member in state.Members.Where(m => !m.Address.Equals(cluster.SelfAddress)))
        {
            if (HostRole.HostOf(member.Roles) is not { } host)
                continue;
            if (unreachable.Contains(member.Address))
            {
                _hosts[host] = new HostStatus(host, null, "unreachable");
                continue;
            }

            if (member.Status != MemberStatus.Up)
            {
                _hosts[host] = new HostStatus(host, null, member.Status.ToString().ToLowerInvariant());
                continue;
            }

            _waiting.Add(host);
            Orchestrator.At(Context, member.Address).Ask<CommandReply>(new HostStatusQuery(), HostPatience)
                .PipeTo(Self, success: r => new HostAnswered(host, r),
                    failure: _ => new HostAnswered(host, CommandReply.Failed([$"did not answer within {HostPatience.TotalSeconds:0} s"])));
        }

        HostGuard.LostHostsTo(Context, Self);
    }

    public static Props Props(StatusRequest request, IActorRef keeper, IActorRef? destinations, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new ClusterStatusQuery(request, keeper, destinations, replyTo));

    private sealed record HostAnswered(string Host, CommandReply Reply) : IMessage;

    private void ReplyWhenDone()
    {
        if (_own is null || _waiting.Count > 0 || !_lostKnown)
            return;
        _replyTo.Tell(_own.Report is StatusReport own
            ? CommandReply.Of(own with { Hosts = [.. _hosts.Values.OrderBy(h => h.Host, StringComparer.Ordinal)] }, true)
            : _own);
        Context.Stop(Self);
    }
}
