using Akka.Actor;
using BtwBackup.Actors;

namespace BtwBackup.Monitoring;

/// <summary>
/// At the daemon's start, reads each destination's pending paths once into the metrics (the
/// syncs keep them current after), so that a restarted daemon does not hide pending work from
/// an alert until its first sync. Stops when answered, or after a while if nobody answers.
/// </summary>
public sealed class PendingProbe : ReceiveActor
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public PendingProbe(IActorRef destinations)
    {
        Receive<AllAnswered>(a =>
        {
            foreach (var report in a.Of<SyncStateReport>())
                Telemetry.PendingPaths(report.Destination, report.State.MustPush.Count + report.State.MustSync.Count);
            Context.Stop(Self);
        });
        Receive<ReceiveTimeout>(_ => Context.Stop(Self));
        destinations.Tell(new AskAll(0, new AskState(), Patience));
        Context.SetReceiveTimeout(Patience + TimeSpan.FromSeconds(5));
    }

    public static Props Props(IActorRef destinations) => Akka.Actor.Props.Create(() => new PendingProbe(destinations));
}
