using Akka.TestKit.Xunit2;
using BtwBackup.Daemon;
using BtwBackup.Protocol;
using Xunit;

namespace BtwBackup.Tests.Daemon;

/// <summary>
/// The gateway's sessions over their client's life. Not under <see cref="GatewaySpec"/>'s
/// serialize-messages: the door's serializers refuse every type but its wire messages, so a
/// Terminated (never serialized in a real daemon, where it is local) would be dropped.
/// </summary>
public sealed class GatewaySessionSpec() : TestKit("akka.actor.provider = local")
{
    private const string Token = "the-token";
    private static readonly string ClientNonce = new('c', 64);
    private readonly DaemonAuth _auth = new(Token);

    [Fact]
    public void A_client_that_is_gone_ends_its_session_so_nothing_knocks_on_its_port_while_the_command_goes_on()
    {
        var orchestrator = CreateTestProbe();
        var gateway = Sys.ActorOf(Gateway.Props(Token, orchestrator.Ref));
        var client = CreateTestProbe();
        client.Send(gateway, new Hello(ClientNonce));
        var challenge = client.ExpectMsg<Challenge>();
        var session = _auth.Session(ClientNonce, challenge.DaemonNonce);
        client.Send(gateway, new DaemonRequest(ClientNonce, challenge.DaemonNonce, true,
            session.Seal(SealedWay.Request, 0, RemoteSerializer.CommandText(new SyncNow(Full: false)), "progress")));
        var execute = orchestrator.ExpectMsg<ExecuteCommand>();
        Watch(execute.ProgressTo!);
        client.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        Sys.Stop(client.Ref);

        ExpectTerminated(execute.ProgressTo!, TimeSpan.FromSeconds(5));
    }
}
