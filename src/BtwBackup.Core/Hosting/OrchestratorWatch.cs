using Akka.Actor;
using Akka.Event;

namespace BtwBackup.Hosting;

/// <summary>
/// The daemon's last word on its Orchestrator (/user/orchestrator-watch): the work system's top
/// actors are stopped, never restarted, when they throw (a restart would drop the jobs, passes
/// and replies in flight, and once left every later command waiting), so an Orchestrator that
/// stops is a bug, and the daemon ends its work system and exits saying so: the service manager
/// starts a fresh one, which recovers as after any crash.
/// </summary>
public sealed class OrchestratorWatch : ReceiveActor
{
    public const string Name = "orchestrator-watch";

    /// <summary>
    /// What the work system's guardian does to a top actor that throws: stop it.
    /// </summary>
    public const string GuardianConfig = "akka.actor.guardian-supervisor-strategy = \"Akka.Actor.StoppingSupervisorStrategy\"";

    /// <summary>Why the daemon ends on its own, for its last line; null while its Orchestrator runs.</summary>
    public static volatile string? Failure;

    public OrchestratorWatch(IActorRef orchestrator)
    {
        Context.Watch(orchestrator);
        Receive<Terminated>(_ =>
        {
            if (Failure is null && CoordinatedShutdown.Get(Context.System).ShutdownReason is null)
            {
                Failure = "the daemon's orchestrator stopped on an unexpected error (the log has it): this daemon exits so that a fresh one starts";
                Context.GetLogger().Error("daemon: {0}", Failure);
            }

            Context.System.Terminate();
        });
    }

    public static Props Props(IActorRef orchestrator) => Akka.Actor.Props.Create(() => new OrchestratorWatch(orchestrator));
}
