using Akka.Actor;
using Akka.TestKit.Xunit2;
using BtwBackup.Daemon;
using BtwBackup.Protocol;
using Xunit;

namespace BtwBackup.Tests.Daemon;

public sealed class GatewaySpec : TestKit
{
    private const string Token = "the-token";
    private static readonly string ClientNonce = new('c', 64);
    private readonly DaemonAuth _auth = new(Token);

    private (IActorRef Gateway, Akka.TestKit.TestProbe Orchestrator) Start()
    {
        var orchestrator = CreateTestProbe();
        return (Sys.ActorOf(Gateway.Props(Token, orchestrator.Ref)), orchestrator);
    }

    private Challenge Handshake(IActorRef gateway)
    {
        gateway.Tell(new Hello(ClientNonce), TestActor);
        var challenge = ExpectMsg<Challenge>();
        Assert.Equal(ClientNonce, challenge.ClientNonce);
        Assert.True(DaemonAuth.Same(_auth.DaemonProof(ClientNonce, challenge.DaemonNonce), challenge.Proof));
        return challenge;
    }

    [Fact]
    public void A_request_that_answers_its_challenge_runs_and_its_reply_is_signed()
    {
        var (gateway, orchestrator) = Start();
        var challenge = Handshake(gateway);
        var text = RemoteSerializer.CommandText(new SyncNow(Full: false));
        gateway.Tell(new DaemonRequest(challenge.DaemonNonce, _auth.RequestProof(ClientNonce, challenge.DaemonNonce, text, null), text, null), TestActor);

        var execute = orchestrator.ExpectMsg<ExecuteCommand>();
        Assert.Equal(new SyncNow(Full: false), execute.Command);
        orchestrator.Reply(CommandReply.Ok("done"));
        var signed = ExpectMsg<SignedReply>();
        Assert.True(DaemonAuth.Same(_auth.ReplyProof(ClientNonce, challenge.DaemonNonce, signed.ReplyText), signed.Proof));
        Assert.Equal(["done"], RemoteSerializer.ParseReply(signed.ReplyText)!.Stdout);
    }

    [Fact]
    public void A_wrong_proof_a_replayed_challenge_and_a_made_up_one_run_nothing()
    {
        var (gateway, orchestrator) = Start();
        var text = RemoteSerializer.CommandText(new SyncNow(Full: true));

        var challenge = Handshake(gateway);
        var wrongToken = new DaemonAuth("guess").RequestProof(ClientNonce, challenge.DaemonNonce, text, null);
        gateway.Tell(new DaemonRequest(challenge.DaemonNonce, wrongToken, text, null), TestActor);
        // The challenge is spent even by a wrong proof: the right one cannot follow on it.
        gateway.Tell(new DaemonRequest(challenge.DaemonNonce, _auth.RequestProof(ClientNonce, challenge.DaemonNonce, text, null), text, null), TestActor);
        // A proof over a command other than the one sent.
        var second = Handshake(gateway);
        var other = RemoteSerializer.CommandText(new ShowStatus(false));
        gateway.Tell(new DaemonRequest(second.DaemonNonce, _auth.RequestProof(ClientNonce, second.DaemonNonce, other, null), text, null), TestActor);
        // A nonce the daemon never issued.
        var madeUp = new string('e', 64);
        gateway.Tell(new DaemonRequest(madeUp, _auth.RequestProof(ClientNonce, madeUp, text, null), text, null), TestActor);
        // Not a command at all, with a right proof.
        var third = Handshake(gateway);
        const string junk = """{"$type":"BtwBackup.Protocol.InitFileTree, BtwBackup.Core"}""";
        gateway.Tell(new DaemonRequest(third.DaemonNonce, _auth.RequestProof(ClientNonce, third.DaemonNonce, junk, null), junk, null), TestActor);

        orchestrator.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_malformed_hello_gets_no_challenge_and_waiting_challenges_are_bounded()
    {
        var (gateway, orchestrator) = Start();
        gateway.Tell(new Hello("short"), TestActor);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        var first = Handshake(gateway);
        for (var i = 0; i < Gateway.MaxPendingChallenges; i++)
            Handshake(gateway);
        // The oldest challenge was let go to make room: it answers no request any more.
        var text = RemoteSerializer.CommandText(new ShowStatus(false));
        gateway.Tell(new DaemonRequest(first.DaemonNonce, _auth.RequestProof(ClientNonce, first.DaemonNonce, text, null), text, null), TestActor);
        orchestrator.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        // While the newest still does.
        var last = Handshake(gateway);
        gateway.Tell(new DaemonRequest(last.DaemonNonce, _auth.RequestProof(ClientNonce, last.DaemonNonce, text, null), text, null), TestActor);
        orchestrator.ExpectMsg<ExecuteCommand>();
    }
}
