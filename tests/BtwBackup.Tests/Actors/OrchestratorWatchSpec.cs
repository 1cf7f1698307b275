using Akka.Actor;
using Akka.Configuration;
using BtwBackup.Hosting;
using Xunit;

namespace BtwBackup.Tests.Actors;

public sealed class OrchestratorWatchSpec
{
    private sealed class Faulty : ReceiveActor
    {
        public Faulty()
        {
            Receive<string>(s => s == "throw", _ => throw new InvalidOperationException("a bug"));
            Receive<string>(s => Sender.Tell(s));
        }
    }

    [Fact]
    public async Task An_orchestrator_that_throws_is_stopped_not_restarted_and_the_work_system_ends_saying_why()
    {
        using var system = ActorSystem.Create("watch", ConfigurationFactory.ParseString(OrchestratorWatch.GuardianConfig + "\nakka.loglevel = OFF"));
        var orchestrator = system.ActorOf(Props.Create(() => new Faulty()), "orchestrator");
        system.ActorOf(OrchestratorWatch.Props(orchestrator), OrchestratorWatch.Name);
        Assert.Equal("ping", await orchestrator.Ask<string>("ping", TimeSpan.FromSeconds(3)));
        Assert.Null(OrchestratorWatch.Failure);

        orchestrator.Tell("throw");

        var ended = await Task.WhenAny(system.WhenTerminated, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.True(ended == system.WhenTerminated, "the work system went on without its orchestrator");
        Assert.Equal("the daemon's orchestrator stopped on an unexpected error (the log has it): this daemon exits so that a fresh one starts", OrchestratorWatch.Failure);
        OrchestratorWatch.Failure = null;
    }
}
