using System.Collections.Immutable;
using Akka.Actor;
using Akka.Actor.Internal;
using Akka.Event;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.Hosting;
using BtwBackup.Protocol;
using BtwBackup.Restore;
using BtwBackup.ObjectStore;
using BtwBackup.Sync;

namespace BtwBackup.Actors;

/// <summary>The Orchestrator's commands that back nothing up: <c>status</c>, <c>restore</c>, <c>verify</c>.</summary>
public sealed partial class Orchestrator
{
    /// <summary><c>status</c>: this node's, and on a node of a cluster every other host's too (<see cref="ClusterStatusQuery"/>); <paramref name="ownOnly"/>: this host's only, as another host asks it.</summary>
    private void ShowStatus(bool ownOnly = false)
    {
        var settings = _services.Settings;
        var next = _nextRun ?? settings.Daemon.NextRun(DateTime.UtcNow);
        var daemon = _services.Daemon is { } d
            ? new DaemonState(true, d.Since, d.Pid, d.Address, settings.Daemon.ScheduleText, next)
            : new DaemonState(false, null, null, null, settings.Daemon.ScheduleText, next);
        var request = StatusRequest.Of(settings, daemon, [.. _jobs.Values.Select(j => j.Source)]) with
        {
            Cluster = ownOnly ? null : ClusterNow(),
        };
        Context.ActorOf(request.Cluster is null
            ? StatusQuery.Props(request, _statusKeeper, DestinationsRef, Sender)
            : ClusterStatusQuery.Props(request, _statusKeeper, DestinationsRef, Sender));
    }

    /// <summary><c>status --history [SOURCE] [--since TIME]</c>: the runs the history keeps, read in a task.</summary>
    private void ShowHistory(ShowStatus show)
    {
        var settings = _services.Settings;
        var path = _services.Runs?.Path;
        Task.Run(() => Monitoring.RunHistory.Answer(settings, path, show)).PipeTo(Sender, failure: e => CommandReply.Failed(ErrorReport.Lines(e)));
    }

    /// <summary>The cluster's members as this node's Akka.Cluster sees them now; null when this node is not a cluster node.</summary>
    private ClusterView? ClusterNow()
    {
        if (((ExtendedActorSystem)Context.System).Provider is not Akka.Cluster.ClusterActorRefProvider)
            return null;
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        var state = cluster.State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        string? HostAt(Address? address) => address is null ? null : HostRole.HostOf(state.Members.FirstOrDefault(m => m.Address.Equals(address))?.Roles ?? []);
        // The singleton manager runs the director on the oldest member up.
        var oldest = state.Members.Where(m => m.Status == Akka.Cluster.MemberStatus.Up).Aggregate((Akka.Cluster.Member?)null, (a, m) => a is null || m.IsOlderThan(a) ? m : a);
        return new ClusterView(HostRole.HostOf(cluster.SelfRoles) ?? "?", HostAt(state.Leader),
            [.. state.Members.Select(m => new ClusterMember(HostRole.HostOf(m.Roles), $"{m.Address.Host}:{m.Address.Port}",
                m.Status.ToString().ToLowerInvariant(), !unreachable.Contains(m.Address)))])
        {
            Director = oldest is null ? null : HostRole.HostOf(oldest.Roles),
        };
    }

    // Restores and verifications run as tasks: long, reading, and each with its own requester.
    private void Restore(RestoreBackup r, IActorRef? progressTo)
    {
        if (_services.Restorer is not { } restorer)
        {
            Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + "restore is not available here"]));
            return;
        }

        var log = _log;
        RestoreCommand.RunAsync(restorer, _services.Settings, _services.Stores, r, ActorProgress.To(progressTo, "restore"),
                (level, line) => { if (level == "INFO") log.Info("{0}", line); else log.Warning("{0}", line); }, _stopping.Token)
            .PipeTo(Sender, failure: e => CommandReply.Failed(ErrorReport.Lines(e)));
    }

    private void Verify(VerifyBackups v, IActorRef? progressTo)
    {
        if (!CheckDsts(v.Dsts))
            return;
        if (_services.Verifier is not { } verifier)
        {
            Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + "verify is not available here"]));
            return;
        }

        var settings = _services.Settings;
        var history = _services.History;
        var system = Context.System;
        var stores = _services.Stores;
        var progress = ActorProgress.To(progressTo, "verify");
        var ct = _stopping.Token;
        async Task<CommandReply> RunAsync(IReadOnlyDictionary<string, SyncState> states, IReadOnlyDictionary<string, DateTime?> lastSyncs)
        {
            var pending = new List<PendingWork>();
            foreach (var d in settings.Destinations)
            {
                var lastSync = lastSyncs.GetValueOrDefault(d.Name);
                if (!states.TryGetValue(d.Name, out var state))
                {
                    pending.Add(PendingWork.Unknown(d.Name, lastSync));
                    continue;
                }

                // The history says since when each path waits; read only when something does.
                var lines = !state.IsEmpty && history is not null ? await history(system, d.Name, null) : [];
                pending.Add(PendingWork.From(d.Name, state, lines, lastSync));
            }

            var report = await verifier.VerifyAsync(settings, v.Dsts, stores, pending, progress, ct, v.Deep ? new DeepCheck(v.Identity) : null);
            return CommandReply.Of(report, report.Ok);
        }

        Context.ActorOf(VerifyRun.Props(_statusKeeper, DestinationsRef, RunAsync, Sender));
    }
}
