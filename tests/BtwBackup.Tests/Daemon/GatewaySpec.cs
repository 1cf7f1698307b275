using Akka.Actor;
using Akka.TestKit.Xunit2;
using BtwBackup.Daemon;
using BtwBackup.Protocol;
using Xunit;

namespace BtwBackup.Tests.Daemon;

/// <summary>
/// The gateway under every message serialized on its way: the wire types with the door's own
/// serializers (hocon/remoting.conf), what it tells the Orchestrator with btw-backup's.
/// </summary>
public sealed class GatewaySpec() : TestKit(BtwBackup.Tests.Actors.SerializedMessages.With(
    Akka.Configuration.ConfigurationFactory.ParseString("akka.actor.provider = local")
        .WithFallback(Akka.Configuration.ConfigurationFactory.ParseString(BtwBackup.Config.ConfigLoader.ReadResource("BtwBackup.remoting.conf")))))
{
    private const string Token = "the-token";

    [Fact]
    public void Its_wire_messages_go_through_the_doors_serializer_and_its_requests_through_btw_backups()
    {
        Assert.True(Sys.Settings.SerializeAllMessages);
        Assert.IsType<RemoteSerializer>(Sys.Serialization.FindSerializerFor(new Hello("n")));
        Assert.IsType<BtwBackup.Protocol.MessageSerializer>(Sys.Serialization.FindSerializerFor(new BtwBackup.Protocol.ExecuteCommand(new BtwBackup.Protocol.ShowStatus(false), null)));
    }

    private static readonly string ClientNonce = new('c', 64);
    private readonly DaemonAuth _auth = new(Token);

    private (IActorRef Gateway, Akka.TestKit.TestProbe Orchestrator) Start()
    {
        var orchestrator = CreateTestProbe();
        return (Sys.ActorOf(Gateway.Props(Token, orchestrator.Ref)), orchestrator);
    }

    private Challenge Handshake(IActorRef gateway, string clientNonce = "")
    {
        clientNonce = clientNonce == "" ? ClientNonce : clientNonce;
        gateway.Tell(new Hello(clientNonce), TestActor);
        var challenge = ExpectMsg<Challenge>();
        Assert.Equal(clientNonce, challenge.ClientNonce);
        Assert.True(DaemonAuth.Same(_auth.DaemonProof(clientNonce, challenge.DaemonNonce), challenge.Proof));
        return challenge;
    }

    private DaemonRequest Request(Challenge challenge, CliCommand command, DaemonAuth? auth = null) =>
        Request(challenge, RemoteSerializer.CommandText(command), auth);

    private DaemonRequest Request(Challenge challenge, string text, DaemonAuth? auth = null) =>
        new(challenge.ClientNonce, challenge.DaemonNonce, false,
            (auth ?? _auth).Session(challenge.ClientNonce, challenge.DaemonNonce).Seal(SealedWay.Request, 0, text, ""));

    [Fact]
    public void A_sealed_request_that_answers_its_challenge_runs_and_its_reply_is_sealed()
    {
        var (gateway, orchestrator) = Start();
        var challenge = Handshake(gateway);
        gateway.Tell(Request(challenge, new SyncNow(Full: false)), TestActor);

        var execute = orchestrator.ExpectMsg<ExecuteCommand>();
        Assert.Equal(new SyncNow(Full: false), execute.Command);
        orchestrator.Reply(CommandReply.Ok("done"));
        var sealedReply = ExpectMsg<SealedReply>();
        Assert.Equal((0, 1), (sealedReply.Part, sealedReply.Parts));
        Assert.DoesNotContain("done", sealedReply.Sealed, StringComparison.Ordinal);
        var session = _auth.Session(ClientNonce, challenge.DaemonNonce);
        var binding = GatewaySession.ReplyBinding(challenge.DaemonNonce, 1);
        Assert.Null(new DaemonAuth("guess").Session(ClientNonce, challenge.DaemonNonce).Open(SealedWay.Reply, 0, sealedReply.Sealed, binding));
        Assert.Equal(["done"], RemoteSerializer.ParseReply(session.Open(SealedWay.Reply, 0, sealedReply.Sealed, binding)!)!.Stdout);
    }

    [Fact]
    public void A_long_reply_crosses_in_sealed_parts_that_make_it_whole_again_and_a_running_command_sends_keepalives()
    {
        var (gateway, orchestrator) = Start();
        var challenge = Handshake(gateway);
        gateway.Tell(Request(challenge, new ShowStatus(false)) with { Progress = true }, TestActor);
        // Sealed for another binding than the one sent: refused.
        orchestrator.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        var second = Handshake(gateway);
        var session = _auth.Session(ClientNonce, second.DaemonNonce);
        gateway.Tell(new DaemonRequest(ClientNonce, second.DaemonNonce, true,
            session.Seal(SealedWay.Request, 0, RemoteSerializer.CommandText(new ShowStatus(false)), "progress")), TestActor);
        var execute = orchestrator.ExpectMsg<ExecuteCommand>();
        Assert.NotNull(execute.ProgressTo);
        execute.ProgressTo.Tell(new ProgressReport("www", "tar: 10%"));
        var progress = ExpectMsg<SealedProgress>();
        Assert.Equal("www", RemoteSerializer.ParseProgress(session.Open(SealedWay.Progress, 0, progress.Sealed, second.DaemonNonce)!)!.Source);
        // Ten seconds without a word: a keepalive (an empty line) comes.
        var keepalive = ExpectMsg<SealedProgress>(TimeSpan.FromSeconds(15));
        Assert.Equal(1UL, keepalive.Sequence);
        Assert.Equal(new ProgressReport("", ""), RemoteSerializer.ParseProgress(session.Open(SealedWay.Progress, 1, keepalive.Sealed, second.DaemonNonce)!));

        var lines = Enumerable.Range(0, 20_000).Select(i => $"line {i} of a long listing").ToArray();
        var reply = new CommandReply(ExitCode.Ok, [.. lines], []);
        var count = (RemoteSerializer.ReplyText(reply).Length + GatewaySession.ReplyPartChars - 1) / GatewaySession.ReplyPartChars;
        Assert.True(count > 1, "the reply is not long enough to need parts");
        orchestrator.Reply(reply);
        var parts = ReceiveN(count, TimeSpan.FromSeconds(5)).Cast<SealedReply>().ToList();
        Assert.Equal(Enumerable.Repeat(count, count), parts.Select(p => p.Parts));
        Assert.Equal(Enumerable.Range(0, count), parts.Select(p => p.Part));
        var text = string.Concat(parts.Select(p => session.Open(SealedWay.Reply, (ulong)p.Part, p.Sealed, GatewaySession.ReplyBinding(second.DaemonNonce, count))));
        Assert.Equal(lines, RemoteSerializer.ParseReply(text)!.Stdout);
        // A part moved to another place does not open.
        Assert.Null(session.Open(SealedWay.Reply, 1, parts[0].Sealed, GatewaySession.ReplyBinding(second.DaemonNonce, count)));
    }

    [Fact]
    public void A_wrong_token_a_replayed_request_a_moved_challenge_and_a_made_up_one_run_nothing()
    {
        var (gateway, orchestrator) = Start();

        var challenge = Handshake(gateway);
        gateway.Tell(Request(challenge, new SyncNow(Full: true), new DaemonAuth("guess")), TestActor);
        orchestrator.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        // The right request runs once; the same bytes again (a replay) do not.
        var right = Request(challenge, new SyncNow(Full: true));
        gateway.Tell(right, TestActor);
        orchestrator.ExpectMsg<ExecuteCommand>();
        gateway.Tell(right, TestActor);
        // A challenge issued to another client nonce.
        var other = Handshake(gateway, new string('d', 64));
        gateway.Tell(Request(other with { ClientNonce = ClientNonce }, new SyncNow(Full: true)), TestActor);
        // A nonce the daemon never issued.
        gateway.Tell(Request(new Challenge(ClientNonce, new string('e', 64), ""), new SyncNow(Full: true)), TestActor);
        // Not a command at all, rightly sealed.
        var third = Handshake(gateway);
        gateway.Tell(Request(third, """{"$type":"BtwBackup.Protocol.InitFileTree, BtwBackup.Core"}"""), TestActor);
        // Sealed bytes altered.
        var fourth = Handshake(gateway);
        var altered = Request(fourth, new ShowStatus(false));
        gateway.Tell(altered with { Sealed = (altered.Sealed[0] == 'A' ? "B" : "A") + altered.Sealed[1..] }, TestActor);

        orchestrator.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_flood_of_hellos_pushes_no_real_challenge_out()
    {
        var (gateway, orchestrator) = Start();
        gateway.Tell(new Hello("short"), TestActor);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        var first = Handshake(gateway);
        for (var i = 0; i < 2_000; i++)
            gateway.Tell(new Hello(DaemonAuth.NewNonce()), TestActor);
        ReceiveN(2_000, TimeSpan.FromSeconds(20));
        gateway.Tell(Request(first, new ShowStatus(false)), TestActor);
        orchestrator.ExpectMsg<ExecuteCommand>();
    }
}
