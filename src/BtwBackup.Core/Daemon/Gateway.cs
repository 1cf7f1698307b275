using System.Buffers.Binary;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using BtwBackup.Protocol;
using BtwBackup.Hosting;

namespace BtwBackup.Daemon;

/// <summary>
/// The daemon's door (/user/gateway, the only actor of the daemon's remoting system): it answers
/// a <see cref="Hello"/> with a challenge that proves it holds the token, runs a
/// <see cref="DaemonRequest"/> sealed under the key of a live challenge of its own, and refuses
/// and logs everything else, once per sender. The command goes to the Orchestrator (in the
/// daemon's other actor system, which no network reaches) through a <see cref="GatewaySession"/>,
/// which seals its progress and its reply.
/// </summary>
public sealed class Gateway : ReceiveActor
{
    public const string Name = "gateway";

    /// <summary>How long a challenge may wait for its request.</summary>
    public static readonly TimeSpan ChallengeLife = TimeSpan.FromSeconds(60);

    private readonly DaemonAuth _auth;
    private readonly IActorRef _orchestrator;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ChallengeBook _challenges = new();
    private readonly bool _loopbackOnly;

    public Gateway(string token, IActorRef orchestrator)
    {
        _auth = new DaemonAuth(token);
        _orchestrator = orchestrator;
        _loopbackOnly = IsLoopback(((ExtendedActorSystem)Context.System).Provider.DefaultAddress.Host);
        Receive<Hello>(OnHello);
        Receive<DaemonRequest>(OnRequest);
        Receive<DeadLetter>(OnDeadLetter);
        ReceiveAny(m => Refuse(Sender, $"a {m.GetType().Name}", "the gateway takes only btw-backup's own handshake"));
    }

    public static Props Props(string token, IActorRef orchestrator) => Akka.Actor.Props.Create(() => new Gateway(token, orchestrator)).OnThisHost();

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(DeadLetter));

    private void OnHello(Hello hello)
    {
        if (FromAfar(Sender))
            return;
        if (!DaemonAuth.IsNonce(hello.ClientNonce))
        {
            Refuse(Sender, "a malformed hello", "its nonce is not 64 hex digits");
            return;
        }

        var nonce = _challenges.Issue(hello.ClientNonce, Now);
        Sender.Tell(new Challenge(hello.ClientNonce, nonce, _auth.DaemonProof(hello.ClientNonce, nonce)));
    }

    private void OnRequest(DaemonRequest request)
    {
        if (FromAfar(Sender))
            return;
        if (!DaemonAuth.IsNonce(request.ClientNonce) || !_challenges.IsLive(request.ClientNonce, request.DaemonNonce, Now))
        {
            Refuse(Sender, "a request", "it answers no live challenge of this daemon");
            return;
        }

        var session = _auth.Session(request.ClientNonce, request.DaemonNonce);
        if (session.Open(SealedWay.Request, 0, request.Sealed, request.Progress ? "progress" : "") is not { } text)
        {
            Refuse(Sender, "a request", "not sealed with this daemon's token: the sender does not hold it");
            return;
        }

        // A challenge answers one request only: a replay of this one is refused above.
        _challenges.Spend(request.DaemonNonce, Now);
        if (RemoteSerializer.ParseCommand(text) is not { } command)
        {
            Refuse(Sender, "a request", "its command is none of btw-backup's (a different version of btw-backup?)");
            return;
        }

        _log.Info("gateway: {0} from {1}", command.GetType().Name, Sender.Path.Address);
        Context.ActorOf(GatewaySession.Props(_orchestrator, Sender, request.Progress, command, session, request.DaemonNonce));
    }

    /// <summary>What arrives for any other path of this system: nothing there but the gateway.</summary>
    private void OnDeadLetter(DeadLetter letter)
    {
        if (letter.Sender is null || !letter.Sender.Path.Address.HasGlobalScope)
            return;
        Refuse(letter.Sender, $"a {letter.Message.GetType().Name} for {letter.Recipient.Path.ToStringWithoutAddress()}", "only the gateway receives");
    }

    /// <summary>
    /// A door on loopback answers loopback senders only: a sender names the address the answer
    /// goes to, and the daemon would otherwise connect out to any host and port a stranger names.
    /// </summary>
    private bool FromAfar(IActorRef sender)
    {
        if (!_loopbackOnly || IsLoopback(sender.Path.Address.Host))
            return false;
        Refuse(sender, "a message", "this daemon listens on loopback and answers nothing beyond it");
        return true;
    }

    public static bool IsLoopback(string? host) =>
        host == "localhost" || (host is not null && System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip));

    private void Refuse(IActorRef sender, string what, string why) => RefusalLog.For(Context.System).Refused(_log, sender.Path.Address.ToString(), $"gateway: refused {what}", why);

    private DateTimeOffset Now => Context.System.Scheduler.Now;
}

/// <summary>
/// The gateway's challenges, kept by no table a stranger can fill: a challenge nonce carries when it
/// was issued and a MAC (under a key of this process alone) over that and the client's nonce, so a
/// hello costs no memory and no flood of hellos can push a real client's challenge out. Only the
/// challenges spent by a request that proved the token are remembered, until they expire, so that
/// none is used twice.
/// </summary>
internal sealed class ChallengeBook
{
    private const int MacBytes = 16;

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly Dictionary<string, DateTimeOffset> _spent = new(StringComparer.Ordinal);

    /// <summary>A fresh challenge nonce for this client nonce (64 hex digits: issue time, random, MAC).</summary>
    public string Issue(string clientNonce, DateTimeOffset now)
    {
        var nonce = new byte[32];
        BinaryPrimitives.WriteInt64BigEndian(nonce, now.ToUnixTimeMilliseconds());
        RandomNumberGenerator.Fill(nonce.AsSpan(8, 8));
        Mac(nonce.AsSpan(0, 16), clientNonce).CopyTo(nonce.AsSpan(16));
        return Convert.ToHexStringLower(nonce);
    }

    /// <summary>True when this process issued the nonce to this client nonce, less than <see cref="Gateway.ChallengeLife"/> ago, and it was not spent.</summary>
    public bool IsLive(string clientNonce, string daemonNonce, DateTimeOffset now)
    {
        if (!DaemonAuth.IsNonce(daemonNonce) || _spent.ContainsKey(daemonNonce))
            return false;
        var nonce = Convert.FromHexString(daemonNonce);
        if (!CryptographicOperations.FixedTimeEquals(Mac(nonce.AsSpan(0, 16), clientNonce), nonce.AsSpan(16)))
            return false;
        var age = now - DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64BigEndian(nonce));
        return age >= TimeSpan.Zero && age <= Gateway.ChallengeLife;
    }

    /// <summary>Remembers a spent challenge until it would have expired anyway.</summary>
    public void Spend(string daemonNonce, DateTimeOffset now)
    {
        foreach (var (nonce, expiry) in _spent.Where(e => e.Value < now).ToList())
            _spent.Remove(nonce, out _);
        _spent[daemonNonce] = now + Gateway.ChallengeLife;
    }

    private byte[] Mac(ReadOnlySpan<byte> issued, string clientNonce)
    {
        var data = new byte[issued.Length + clientNonce.Length];
        issued.CopyTo(data);
        System.Text.Encoding.ASCII.GetBytes(clientNonce, data.AsSpan(issued.Length));
        return HMACSHA256.HashData(_key, data)[..MacBytes];
    }
}

/// <summary>
/// One command that passed the gateway: sent to the Orchestrator; its progress, a keepalive every
/// few seconds, and its reply (in parts) sealed for the client.
/// </summary>
internal sealed class GatewaySession : ReceiveActor, IWithTimers
{
    /// <summary>How often a running command tells the client it still runs.</summary>
    public static readonly TimeSpan KeepaliveEvery = TimeSpan.FromSeconds(10);

    /// <summary>Characters of the reply's text per sealed part (a part stays far below the door's frame size).</summary>
    public const int ReplyPartChars = 64 * 1024;

    private readonly IActorRef _client;
    private readonly DaemonSession _session;
    private readonly string _daemonNonce;
    private ulong _progressSent;

    public ITimerScheduler Timers { get; set; } = null!;

    public GatewaySession(IActorRef orchestrator, IActorRef client, bool progress, CliCommand command, DaemonSession session, string daemonNonce)
    {
        _client = client;
        _session = session;
        _daemonNonce = daemonNonce;
        Receive<ProgressReport>(Send);
        Receive<Keepalive>(_ => Send(new ProgressReport("", "")));
        Receive<CommandReply>(reply =>
        {
            var text = RemoteSerializer.ReplyText(reply);
            var parts = Math.Max(1, (text.Length + ReplyPartChars - 1) / ReplyPartChars);
            for (var i = 0; i < parts; i++)
            {
                var part = text.Substring(i * ReplyPartChars, Math.Min(ReplyPartChars, text.Length - i * ReplyPartChars));
                client.Tell(new SealedReply(daemonNonce, i, parts, session.Seal(SealedWay.Reply, (ulong)i, part, ReplyBinding(daemonNonce, parts))));
            }

            Context.Stop(Self);
        });
        orchestrator.Tell(new ExecuteCommand(command, progress ? Self : null));
    }

    protected override void PreStart() => Timers.StartPeriodicTimer(nameof(Keepalive), new Keepalive(), KeepaliveEvery);

    /// <summary>What a reply part's seal is bound to besides its number: the exchange and how many parts there are.</summary>
    public static string ReplyBinding(string daemonNonce, int parts) => $"{daemonNonce} {parts}";

    private void Send(ProgressReport report)
    {
        _client.Tell(new SealedProgress(_daemonNonce, _progressSent,
            _session.Seal(SealedWay.Progress, _progressSent, RemoteSerializer.ProgressText(report), _daemonNonce)));
        _progressSent++;
    }

    public static Props Props(IActorRef orchestrator, IActorRef client, bool progress, CliCommand command, DaemonSession session, string daemonNonce) =>
        Akka.Actor.Props.Create(() => new GatewaySession(orchestrator, client, progress, command, session, daemonNonce)).OnThisHost();

    private sealed record Keepalive;
}
