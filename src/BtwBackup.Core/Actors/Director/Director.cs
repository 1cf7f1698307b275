using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using BtwBackup.Config;
using BtwBackup.Hosting;
using BtwBackup.Protocol;

namespace BtwBackup.Actors;

/// <summary>A pass over the cluster: every host's sources (none named), or HOST:SOURCE ones; answered <see cref="ClusterPassDone"/> to <paramref name="ReplyTo"/> (an Orchestrator: the CLI's own reference may not be reachable from the director's node).</summary>
public sealed record ClusterPass(long Id, ImmutableList<string> Sources, IActorRef ReplyTo, DateTime? ScheduledFor = null) : IMessage;

public sealed record ClusterPassDone(long Id, CommandReply Reply) : IMessage;

/// <summary>The director has the pass: from now on its requester waits for <see cref="ClusterPassDone"/> as long as the pass takes.</summary>
public sealed record ClusterPassStarted(long Id) : IMessage;

/// <summary>Sent by the director to one host's Orchestrator: run a pass over these of its own sources (none: all); <paramref name="ScheduledFor"/>: the schedule's time it runs for.</summary>
public sealed record HostPass(ImmutableList<string> Sources, DateTime? ScheduledFor = null) : IMessage;

/// <summary>To the director on this node, if it runs here: the node's configuration was reloaded (SIGHUP), with this schedule.</summary>
public sealed record ScheduleChanged(DaemonSettings Daemon) : IMessage;

/// <summary>From a director that just started, to every host's Orchestrator: answered <see cref="LastScheduled"/>.</summary>
public sealed record AskLastScheduled : IMessage;

/// <summary>A host's Orchestrator: up since when, and the schedule's time of the last scheduled pass it was asked to run (null: none since it came up).</summary>
public sealed record LastScheduled(DateTime UpSince, DateTime? LastScheduledFor) : IMessage;

/// <summary>
/// The cluster's director (/user/director, a cluster singleton: one in the whole cluster, moved to
/// another node when its node leaves or dies). A pass over the cluster asks each host's own
/// Orchestrator to run its own sources (each host backs up its own data into its own root and
/// syncs to its own destinations) and gathers their summaries; a host that is unreachable when
/// the pass starts, or becomes so before it answers, is one line, never a wait. It owns the
/// schedule: the daemon.schedule of the node it runs on (the same on every node, as the README
/// asks) starts one pass over every host, whose summary goes to the log of the director's node;
/// a node of a cluster runs no schedule of its own. A director that starts (it moved: its former
/// node died or left) asks every host whether the schedule's latest time, if it fell within the
/// last <see cref="MakeUpWithin"/>, was run: when a host that was up then never got it, the
/// move ate it, and the pass runs at once.
/// </summary>
public sealed class Director : ReceiveActor, IWithTimers
{
    public const string Name = "director";
    public const string ProxyName = "director-proxy";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private DaemonSettings _daemon;
    private long _scheduledId;
    private bool _scheduledRunning;

    /// <summary>The schedule's latest time, while the hosts are not yet asked whether they ran it (see <see cref="AskHosts"/>).</summary>
    private DateTime? _latest;

    public Director(DaemonSettings daemon)
    {
        _daemon = daemon;
        Receive<ClusterPass>(pass =>
        {
            pass.ReplyTo.Tell(new ClusterPassStarted(pass.Id));
            Context.ActorOf(ClusterPassRun.Props(pass));
        });
        Receive<ScheduledClusterPass>(Scheduled);
        Receive<ClusterPassStarted>(_ => { });
        Receive<ClusterPassDone>(ScheduledDone);
        Receive<LastScheduled>(l => _lastScheduled.Add(l));
        Receive<ScheduleChanged>(changed =>
        {
            _daemon = changed.Daemon;
            _log.Info("director: schedule now {0}", changed.Daemon.ScheduleText ?? "none");
            Timers.Cancel("schedule");
            ScheduleNext();
        });
        Receive<MissedCheck>(CheckMissed);
        Receive<ClusterEvent.CurrentClusterState>(AskHosts);
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    /// <summary>How far back a scheduled time the director's move ate is made up.</summary>
    public static readonly TimeSpan MakeUpWithin = TimeSpan.FromMinutes(15);

    private static readonly TimeSpan AskPatience = TimeSpan.FromSeconds(5);

    private readonly List<LastScheduled> _lastScheduled = [];

    private sealed record MissedCheck(DateTime At) : IMessage;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(DaemonSettings daemon) => Akka.Actor.Props.Create(() => new Director(daemon)).OnThisHost();


    /// <summary>The timer of the schedule's next pass.</summary>
    private sealed record ScheduledClusterPass(DateTime At) : IMessage;

    protected override void PreStart()
    {
        ScheduleNext();
        if (PreviousRun(DateTime.UtcNow) is not { } latest)
            return;
        // The members as the cluster's own events say them now (Cluster.State, fed by another
        // subscriber, can lag a moment behind): answered by a CurrentClusterState.
        _latest = latest;
        Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent));
    }

    /// <summary>Asks every host that is up whether it ran the schedule's latest time (see the class), once.</summary>
    private void AskHosts(ClusterEvent.CurrentClusterState state)
    {
        Cluster.Get(Context.System).Unsubscribe(Self);
        if (_latest is not { } latest)
            return;
        _latest = null;
        foreach (var member in state.Members.Where(m => m.Status == MemberStatus.Up && HostRole.HostOf(m.Roles) is not null))
            Orchestrator.At(Context, member.Address).Tell(new AskLastScheduled());
        Timers.StartSingleTimer("missed", new MissedCheck(latest), AskPatience);
    }

    protected override void PostStop() => Cluster.Get(Context.System).Unsubscribe(Self);

    /// <summary>The schedule's latest time at or before <paramref name="now"/> within <see cref="MakeUpWithin"/>, or null.</summary>
    private DateTime? PreviousRun(DateTime now)
    {
        DateTime? latest = null;
        for (var at = _daemon.NextRun(now - MakeUpWithin); at is { } t && t <= now; at = _daemon.NextRun(t))
            latest = t;
        return latest;
    }

    private void CheckMissed(MissedCheck check)
    {
        var upThen = _lastScheduled.Any(l => l.UpSince < check.At);
        var ran = _lastScheduled.Any(l => l.LastScheduledFor >= check.At);
        _lastScheduled.Clear();
        if (!upThen || ran || _scheduledRunning)
            return;
        _log.Warning("director: the scheduled pass of {0} fell while the director moved to this node: it runs now", SummaryFormat.Time(check.At));
        StartScheduled(check.At);
    }

    private void StartScheduled(DateTime at)
    {
        _scheduledRunning = true;
        Context.ActorOf(ClusterPassRun.Props(new ClusterPass(--_scheduledId, [], Self, at)));
    }

    private void ScheduleNext()
    {
        if (_daemon.NextRun(DateTime.UtcNow) is not { } at)
            return;
        _log.Info("director: next scheduled pass over the cluster {0}", SummaryFormat.Time(at));
        Timers.StartSingleTimer("schedule", new ScheduledClusterPass(at), DaemonSettings.TimerWait(at, DateTime.UtcNow));
    }

    private void Scheduled(ScheduledClusterPass scheduled)
    {
        if (DaemonSettings.IsEarly(scheduled.At, DateTime.UtcNow))
        {
            Timers.StartSingleTimer("schedule", scheduled, DaemonSettings.TimerWait(scheduled.At, DateTime.UtcNow));
            return;
        }

        if (_scheduledRunning)
        {
            _log.Warning("director: the scheduled pass of {0} is skipped, the previous one is still running", SummaryFormat.Time(scheduled.At));
        }
        else
        {
            StartScheduled(scheduled.At);
        }

        ScheduleNext();
    }

    /// <summary>The summary of a scheduled pass has no reader but the log: one line, each host's result in it.</summary>
    private void ScheduledDone(ClusterPassDone done)
    {
        _scheduledRunning = false;
        if (done.Reply.Report is not ClusterPassSummary summary)
        {
            _log.Warning("director: scheduled pass not run: {0}", string.Join("; ", done.Reply.Stderr.Select(ErrorReport.Bare)));
            return;
        }

        var line = $"director: scheduled pass over the cluster {(summary.Ok ? "done" : "done with failures")} in {summary.Seconds:0.0} s: "
            + string.Join("; ", summary.Hosts.Select(h => h.Pass is { } pass
                ? $"{h.Host}: " + SummaryFormat.SourceResults(pass)
                : $"{h.Host}: " + string.Join(", ", h.Errors.DefaultIfEmpty("did not answer").Select(ErrorReport.Bare))));
        if (summary.Ok)
            _log.Info("{0}", line);
        else
            _log.Warning("{0}", line);
    }
}

/// <summary>The director as a cluster singleton.</summary>
public static class DirectorSingleton
{
    /// <summary>
    /// Starts this node's part of the singleton (/user/director, which runs the director when this
    /// node is the oldest) and the proxy every node reaches the director through, wherever it runs.
    /// </summary>
    public static IActorRef Start(ActorSystem system, DaemonSettings daemon)
    {
        system.ActorOf(Akka.Cluster.Tools.Singleton.ClusterSingletonManager.Props(Director.Props(daemon), PoisonPill.Instance,
            Akka.Cluster.Tools.Singleton.ClusterSingletonManagerSettings.Create(system)).OnThisHost(), Director.Name);
        return system.ActorOf(Akka.Cluster.Tools.Singleton.ClusterSingletonProxy.Props("/user/" + Director.Name,
            Akka.Cluster.Tools.Singleton.ClusterSingletonProxySettings.Create(system)).OnThisHost(), Director.ProxyName);
    }

    /// <summary>The director if it runs on this node (else nothing there: a message sent is dropped).</summary>
    public static ActorSelection OnThisNode(IActorContext context) =>
        context.ActorSelection($"/user/{Director.Name}/{Akka.Cluster.Tools.Singleton.ClusterSingletonManagerSettings.Create(context.System).SingletonName}");
}

/// <summary>One pass over the cluster, from its start to its reply.</summary>
public sealed class ClusterPassRun : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ClusterPass _pass;
    private readonly DateTime _started = DateTime.UtcNow;
    /// <summary>A host's pass is long (hours): the ask's own limit only ends a wait the cluster events have not ended first.</summary>
    private static readonly TimeSpan HostPassLimit = TimeSpan.FromDays(1);

    private readonly Dictionary<Address, string> _waiting = new();
    private readonly Dictionary<string, HostResult> _done = new(StringComparer.Ordinal);

    public ClusterPassRun(ClusterPass pass)
    {
        _pass = pass;
        Receive<LostHosts>(Begin);
        Receive<HostAnswered>(a => Answered(a.Address, a.Reply));
        Receive<ClusterEvent.UnreachableMember>(u => Gone(u.Member.Address, "unreachable"));
        // A node that leaves (its daemon stopped or exited) or is downed mid-pass is never unreachable: its pass ends too.
        Receive<ClusterEvent.MemberExited>(e => Gone(e.Member.Address, "left the cluster"));
        Receive<ClusterEvent.MemberDowned>(e => Gone(e.Member.Address, "downed"));
        Receive<ClusterEvent.MemberRemoved>(e => Gone(e.Member.Address, "removed from the cluster"));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        // The state when the subscription began: what changed between the pass's start and it had no event.
        Receive<ClusterEvent.CurrentClusterState>(state =>
        {
            foreach (var address in _waiting.Keys.ToList())
            {
                if (state.Unreachable.Any(m => m.Address.Equals(address)))
                    Gone(address, "unreachable");
                else if (state.Members.FirstOrDefault(m => m.Address.Equals(address)) is not { Status: MemberStatus.Up })
                    Gone(address, "left the cluster");
            }
        });
    }

    /// <summary>A host whose pass is awaited that can no longer answer: one line, and the pass goes on without it.</summary>
    private void Gone(Address address, string how)
    {
        if (!_waiting.Remove(address, out var host))
            return;
        _done[host] = new HostResult(host, null, [$"{how} since {SummaryFormat.Time(DateTime.UtcNow)}: its pass is not known (status on it tells once it is back)"]);
        ReplyWhenDone();
    }

    public static Props Props(ClusterPass pass) => Akka.Actor.Props.Create(() => new ClusterPassRun(pass));

    private sealed record HostAnswered(Address Address, CommandReply Reply) : IMessage;

    protected override void PreStart() => HostGuard.LostHostsTo(Context, Self);

    private void Begin(LostHosts lost)
    {
        var cluster = Cluster.Get(Context.System);
        var state = cluster.State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        var named = _pass.Sources.Select(s => s.Split(':', 2)).ToList();
        var bare = named.Where(p => p.Length == 1).Select(p => p[0]).ToList();
        if (bare.Count > 0)
        {
            Finish(CommandReply.Failed([ErrorReport.Prefix + $"in a cluster, name a source with its host: HOST:SOURCE (not {string.Join(", ", bare)})"]));
            return;
        }

        var hosts = state.Members.Where(m => m.Status == MemberStatus.Up && HostRole.HostOf(m.Roles) is not null)
            .Select(m => (Member: m, Host: HostRole.HostOf(m.Roles)!)).ToList();
        if (hosts.Count == 0)
        {
            Finish(CommandReply.Failed([ErrorReport.Prefix + "no host is up in the cluster yet: nothing was backed up (status shows the members)"]));
            return;
        }

        var wanted = named.Select(p => p[0]).ToHashSet(StringComparer.Ordinal);
        // A host the cluster lost (killed, cut off, downed) and that is not back: one line, so a pass never passes over it in silence.
        var gone = lost.Hosts.Where(l => hosts.All(h => h.Host != l.Host) && (wanted.Count == 0 || wanted.Contains(l.Host))).ToList();
        foreach (var l in gone)
            _done[l.Host] = new HostResult(l.Host, null, [$"{l.How} since {SummaryFormat.Time(l.Since)}: not backed up"]);
        if (wanted.FirstOrDefault(h => hosts.All(x => x.Host != h) && !_done.ContainsKey(h)) is { } missing)
        {
            Finish(CommandReply.Failed([ErrorReport.Prefix + $"no host {missing} is up in the cluster (up: {string.Join(", ", hosts.Select(h => h.Host))})"]));
            return;
        }

        // A member of a host that is not up yet, or any more (joining, leaving): named, not passed over.
        foreach (var m in state.Members.Where(m => m.Status != MemberStatus.Up && HostRole.HostOf(m.Roles) is { } h && hosts.All(x => x.Host != h)))
        {
            var host = HostRole.HostOf(m.Roles)!;
            if (wanted.Count == 0 || wanted.Contains(host))
                _done[host] = new HostResult(host, null, [$"{m.Status.ToString().ToLowerInvariant()}: not backed up"]);
        }

        cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.UnreachableMember), typeof(ClusterEvent.IMemberEvent));
        foreach (var (member, host) in hosts.Where(h => wanted.Count == 0 || wanted.Contains(h.Host)))
        {
            if (unreachable.Contains(member.Address))
            {
                var since = lost.Hosts.FirstOrDefault(l => l.Host == host)?.Since;
                _done[host] = new HostResult(host, null, [$"unreachable{(since is { } t ? " since " + SummaryFormat.Time(t) : "")}: not backed up"]);
                continue;
            }

            _waiting[member.Address] = host;
            // "HOST:" (run --host HOST) asks for every source of that host, whatever else names it.
            ImmutableList<string> sources = named.Any(p => p[0] == host && p[1].Length == 0) ? [] : [.. named.Where(p => p[0] == host).Select(p => p[1]).Distinct()];
            var address = member.Address;
            Orchestrator.At(Context, address).Ask<CommandReply>(new HostPass(sources, _pass.ScheduledFor), HostPassLimit)
                .PipeTo(Self, success: r => new HostAnswered(address, r), failure: e => new HostAnswered(address, CommandReply.Failed([e.Message])));
        }

        _log.Info("director: pass over {0}", string.Join(", ", _waiting.Values.Concat(_done.Keys).Order(StringComparer.Ordinal)));
        ReplyWhenDone();
    }

    protected override void PostStop() => Cluster.Get(Context.System).Unsubscribe(Self);

    private void Answered(Address from, CommandReply reply)
    {
        if (!_waiting.Remove(from, out var host))
            return;
        _done[host] = new HostResult(host, reply.Report as PassSummary, reply.Stderr);
        ReplyWhenDone();
    }

    private void ReplyWhenDone()
    {
        if (_waiting.Count > 0)
            return;
        var report = new ClusterPassSummary(_started, (DateTime.UtcNow - _started).TotalSeconds, [.. _done.Values.OrderBy(h => h.Host, StringComparer.Ordinal)]);
        Finish(CommandReply.Of(report, report.Ok));
    }

    private void Finish(CommandReply reply)
    {
        _pass.ReplyTo.Tell(new ClusterPassDone(_pass.Id, reply));
        Context.Stop(Self);
    }
}
