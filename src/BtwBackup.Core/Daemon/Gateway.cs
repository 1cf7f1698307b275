using Akka.Actor;
using Akka.Event;
using BtwBackup.Protocol;

namespace BtwBackup.Daemon;

/// <summary>
/// The daemon's door (/user/gateway, the only actor of the daemon's remoting system): it answers
/// a <see cref="Hello"/> with a challenge that proves it holds the token, runs a
/// <see cref="DaemonRequest"/> whose proof answers a live challenge of its own, and refuses and
/// logs everything else, once per sender. The command goes to the Orchestrator (in the daemon's
/// other actor system, which no network reaches) through a <see cref="GatewaySession"/>, which
/// signs the reply.
/// </summary>
public sealed class Gateway : ReceiveActor
{
    public const string Name = "gateway";

    /// <summary>How long a challenge may wait for its request.</summary>
    public static readonly TimeSpan ChallengeLife = TimeSpan.FromSeconds(60);

    /// <summary>At most this many challenges wait at once: a client that only says hello cannot fill memory.</summary>
    public const int MaxPendingChallenges = 256;

    private readonly DaemonAuth _auth;
    private readonly IActorRef _orchestrator;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, PendingChallenge> _pending = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    public Gateway(string token, IActorRef orchestrator)
    {
        _auth = new DaemonAuth(token);
        _orchestrator = orchestrator;
        Receive<Hello>(OnHello);
        Receive<DaemonRequest>(OnRequest);
        Receive<DeadLetter>(OnDeadLetter);
        ReceiveAny(m => Refuse(Sender, $"a {m.GetType().Name}", "the gateway takes only btw-backup's own handshake"));
    }

    public static Props Props(string token, IActorRef orchestrator) => Akka.Actor.Props.Create(() => new Gateway(token, orchestrator));

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(DeadLetter));

    private void OnHello(Hello hello)
    {
        if (!DaemonAuth.IsNonce(hello.ClientNonce))
        {
            Refuse(Sender, "a malformed hello", "its nonce is not 64 hex digits");
            return;
        }

        ForgetExpired();
        if (_pending.Count >= MaxPendingChallenges && _order.TryDequeue(out var oldest))
            _pending.Remove(oldest);
        var nonce = DaemonAuth.NewNonce();
        _pending[nonce] = new PendingChallenge(hello.ClientNonce, Now);
        _order.Enqueue(nonce);
        Sender.Tell(new Challenge(hello.ClientNonce, nonce, _auth.DaemonProof(hello.ClientNonce, nonce)));
    }

    private void OnRequest(DaemonRequest request)
    {
        ForgetExpired();
        // A challenge answers one request only, whatever its fate.
        if (!_pending.Remove(request.DaemonNonce, out var challenge))
        {
            Refuse(Sender, "a request", "it answers no live challenge of this daemon");
            return;
        }

        if (!DaemonAuth.Same(_auth.RequestProof(challenge.ClientNonce, request.DaemonNonce, request.CommandText, request.ProgressTo), request.Proof))
        {
            Refuse(Sender, "a request", "wrong proof: the sender does not hold this daemon's token");
            return;
        }

        if (RemoteSerializer.ParseCommand(request.CommandText) is not { } command)
        {
            Refuse(Sender, "a request", "its command is none of btw-backup's");
            return;
        }

        _log.Info("gateway: {0} from {1}", command.GetType().Name, Sender.Path.Address);
        Context.ActorOf(GatewaySession.Props(_orchestrator, Sender, new ExecuteCommand(command, ProgressActor(request.ProgressTo)),
            _auth, challenge.ClientNonce, request.DaemonNonce));
    }

    /// <summary>What arrives for any other path of this system: nothing there but the gateway.</summary>
    private void OnDeadLetter(DeadLetter letter)
    {
        if (letter.Sender is null || !letter.Sender.Path.Address.HasGlobalScope)
            return;
        Refuse(letter.Sender, $"a {letter.Message.GetType().Name} for {letter.Recipient.Path.ToStringWithoutAddress()}", "only the gateway receives");
    }

    /// <summary>Where progress goes: an actor of a remote system (the client's), never one of this process, whatever path the wire names.</summary>
    private IActorRef? ProgressActor(string? path)
    {
        if (path is null || !ActorPath.TryParse(path, out var parsed) || !parsed.Address.HasGlobalScope)
            return null;
        var actor = ((ExtendedActorSystem)Context.System).Provider.ResolveActorRef(path);
        return actor is IInternalActorRef { IsLocal: true } ? null : actor;
    }

    private void Refuse(IActorRef sender, string what, string why)
    {
        var from = sender.Path.Address.ToString();
        if (RefusalLog.For(Context.System).FirstFrom(from))
            _log.Warning("gateway: refused {0} from {1}: {2} (further refusals of this sender are not logged)", what, from, why);
    }

    private void ForgetExpired()
    {
        while (_order.TryPeek(out var nonce) && (!_pending.TryGetValue(nonce, out var c) || Now - c.Issued > ChallengeLife))
        {
            _order.Dequeue();
            _pending.Remove(nonce);
        }
    }

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    private sealed record PendingChallenge(string ClientNonce, DateTimeOffset Issued);
}

/// <summary>One command that passed the gateway: sent to the Orchestrator, its reply signed for the client.</summary>
internal sealed class GatewaySession : ReceiveActor
{
    public GatewaySession(IActorRef orchestrator, IActorRef client, ExecuteCommand command, DaemonAuth auth, string clientNonce, string daemonNonce)
    {
        Receive<CommandReply>(reply =>
        {
            var text = RemoteSerializer.ReplyText(reply);
            client.Tell(new SignedReply(daemonNonce, auth.ReplyProof(clientNonce, daemonNonce, text), text));
            Context.Stop(Self);
        });
        orchestrator.Tell(command);
    }

    public static Props Props(IActorRef orchestrator, IActorRef client, ExecuteCommand command, DaemonAuth auth, string clientNonce, string daemonNonce) =>
        Akka.Actor.Props.Create(() => new GatewaySession(orchestrator, client, command, auth, clientNonce, daemonNonce));
}
