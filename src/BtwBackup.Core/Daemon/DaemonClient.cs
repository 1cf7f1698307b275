using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.Remote;
using BtwBackup.Config;
using BtwBackup.Hosting;
using BtwBackup.Actors;
using BtwBackup.Protocol;

namespace BtwBackup.Daemon;

/// <summary>
/// The CLI's side of the daemon. Finding out whether one serves costs one TCP connect (tens of
/// milliseconds when nobody listens), before any actor system starts. Only then does the CLI
/// start a small remoting client and run the handshake (see DaemonProtocol.cs): the
/// daemon must prove it holds the token before the command is sent, sealed; only progress and a
/// reply sealed by the same exchange's key are taken. A daemon that dies mid-command is noticed
/// by its connection closing, and reported instead of waited for forever.
/// </summary>
public static class DaemonClient
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);

    /// <summary>How long the client's actor system may take to stop once the command has its answer.</summary>
    private static readonly TimeSpan TerminateTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long the daemon has to answer the CLI's hello with its proof.</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>True when something accepts connections on the daemon's address.</summary>
    public static async Task<bool> IsServingAsync(DaemonSettings daemon, CancellationToken ct)
    {
        using var tcp = new TcpClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ProbeTimeout);
        try
        {
            await tcp.ConnectAsync(daemon.Hostname, daemon.Port, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return false;
        }
    }

    /// <summary>Sends the command to the daemon and returns its reply; progress shows on <paramref name="progress"/> (a terminal) when set.</summary>
    public static async Task<CommandReply> ExecuteAsync(GeneralSettings settings, CliCommand command, TextWriter? progress, CancellationToken ct)
    {
        var daemon = settings.Daemon;
        var where = $"{daemon.Hostname}:{daemon.Port}";
        var token = DaemonToken.Read(settings.ConfigDir)
            ?? throw new ConfigException($"something answers on {where} (daemon.port), but this user cannot read {Path.Combine(settings.ConfigDir, DaemonToken.FileName)}, " +
                "so it cannot check that it is btw-backup's daemon: nothing was sent (run the command as the daemon's user, with its --config-dir)");
        var loopback = Gateway.IsLoopback(daemon.Hostname);
        var system = BackupHost.StartRemoting(BackupHost.SystemName + "-cli", settings, loopback ? daemon.Hostname : "0.0.0.0", 0);
        try
        {
            // Sent to the gateway's path: no actor selection, no lookup that an impostor could answer.
            var gateway = ((ExtendedActorSystem)system).Provider.ResolveActorRef(
                $"{(daemon.Tls is null ? "akka.tcp" : "akka.ssl.tcp")}://{BackupHost.SystemName}@{where}/user/{Gateway.Name}");
            var printer = ProgressDisplay.Start(system, progress);
            var done = new TaskCompletionSource<CommandReply>(TaskCreationOptions.RunContinuationsAsynchronously);
            var request = new PendingRequest(new DaemonAuth(token), RemoteSerializer.CommandText(command), where, settings.ConfigDir);
            system.ActorOf(Props.Create(() => new Waiter(gateway, request, printer, done)).OnThisHost(), "waiter");
            // Remoting stops the client's actor system when its transport fails for good (a TLS
            // handshake that the daemon refuses): the waiter and its timers stop with it.
            _ = system.WhenTerminated.ContinueWith(_ => done.TrySetResult(CommandReply.Failed([ErrorReport.Prefix +
                $"the connection to {where} (daemon.port) failed before the daemon answered (with daemon.tls: a certificate the daemon refuses?); the command may not have reached it"])),
                TaskScheduler.Default);
            CommandReply reply;
            await using (ct.Register(() => done.TrySetCanceled(ct)))
                reply = await done.Task;
            if (!system.WhenTerminated.IsCompleted)
                await ProgressDisplay.ClearAsync(printer);
            return reply;
        }
        finally
        {
            await Logging.FileLogger.FlushAsync(system, TimeSpan.FromSeconds(2));
            // Awaited: leaving the association abruptly puts a stack trace in the daemon's log.
            // Bounded: after a refused TLS handshake, remoting's shutdown can wait forever on a
            // transport that never opened, and the command's answer is already known.
            await Task.WhenAny(system.Terminate(), Task.Delay(TerminateTimeout, CancellationToken.None));
        }
    }

    private sealed record PendingRequest(DaemonAuth Auth, string CommandText, string Where, string ConfigDir);

    /// <summary>After a challenge that does not prove the token, how long the real daemon's may still come.</summary>
    private static readonly TimeSpan GraceAfterForgery = TimeSpan.FromSeconds(2);

    /// <summary>How long a sent command may go without a word from the daemon (it sends a keepalive every 10 s).</summary>
    public static readonly TimeSpan SilenceTimeout = TimeSpan.FromSeconds(45);

    /// <summary>
    /// Runs the handshake, sends the command sealed once the daemon has proved itself, shows the
    /// progress lines it seals, and waits for the reply it seals, or for its connection to close.
    /// Whatever does not prove the token (a challenge, a progress line, a reply: any local process
    /// can send to this client's port) is ignored, never taken for the daemon's word, so that a
    /// stranger can neither fake an answer nor end the command early.
    /// </summary>
    private sealed class Waiter : ReceiveActor, IWithTimers
    {
        private readonly IActorRef _gateway;
        private readonly PendingRequest _request;
        private readonly IActorRef? _printer;
        private readonly TaskCompletionSource<CommandReply> _done;
        private readonly string _clientNonce = DaemonAuth.NewNonce();
        private readonly ILoggingAdapter _log = Context.GetLogger();
        private string? _daemonNonce;
        private DaemonSession? _session;
        private ulong _nextProgress;
        private bool _forged;
        private string?[]? _replyParts;

        public ITimerScheduler Timers { get; set; } = null!;

        public Waiter(IActorRef gateway, PendingRequest request, IActorRef? printer, TaskCompletionSource<CommandReply> done)
        {
            _gateway = gateway;
            _request = request;
            _printer = printer;
            _done = done;
            Receive<Challenge>(OnChallenge);
            Receive<SealedProgress>(OnProgress);
            Receive<SealedReply>(OnReply);
            Receive<HandshakeTimedOut>(_ => Fail(_forged
                ? Impostor("cannot prove it holds " + Path.Combine(_request.ConfigDir, DaemonToken.FileName))
                : $"something listens on {_request.Where} (daemon.port) but does not answer as btw-backup's daemon within {HandshakeTimeout.TotalSeconds:0} s: "
                  + "an impostor, the daemon of another configuration directory, or a daemon too busy to answer; the command was not sent"));
            Receive<Silence>(_ => Fail($"the daemon has not answered for {SilenceTimeout.TotalSeconds:0} s: the command may not have reached it, or may still run "
                + "(btw-backup status tells; what was not synced stays pending)"));
            Receive<DisassociatedEvent>(e =>
            {
                if (e.RemoteAddress != _gateway.Path.Address)
                    return;
                Fail(_session is null
                    ? Impostor(_forged ? "cannot prove it holds " + Path.Combine(_request.ConfigDir, DaemonToken.FileName) : "closed the connection")
                    : "the daemon stopped before it answered: the command may not have finished (btw-backup status tells; what was not synced stays pending)");
            });
        }

        protected override void PreStart()
        {
            Context.System.EventStream.Subscribe(Self, typeof(DisassociatedEvent));
            Timers.StartSingleTimer(nameof(HandshakeTimedOut), new HandshakeTimedOut(), HandshakeTimeout);
            _gateway.Tell(new Hello(_clientNonce));
        }

        protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

        private void OnChallenge(Challenge challenge)
        {
            if (_session is not null)
                return;
            if (challenge.ClientNonce != _clientNonce || !DaemonAuth.IsNonce(challenge.DaemonNonce)
                || !DaemonAuth.Same(_request.Auth.DaemonProof(_clientNonce, challenge.DaemonNonce), challenge.Proof))
            {
                // An impostor on the port, or a local process racing the daemon's answer: the
                // daemon's own challenge may still come, within moments.
                if (!_forged)
                {
                    _forged = true;
                    Timers.StartSingleTimer(nameof(HandshakeTimedOut), new HandshakeTimedOut(), GraceAfterForgery);
                    Ignored("a challenge");
                }

                return;
            }

            Timers.Cancel(nameof(HandshakeTimedOut));
            _daemonNonce = challenge.DaemonNonce;
            _session = _request.Auth.Session(_clientNonce, _daemonNonce);
            var progress = _printer is not null;
            _gateway.Tell(new DaemonRequest(_clientNonce, _daemonNonce, progress,
                _session.Seal(SealedWay.Request, 0, _request.CommandText, progress ? "progress" : "")));
            HeardFromTheDaemon();
        }

        private void HeardFromTheDaemon() => Timers.StartSingleTimer(nameof(Silence), new Silence(), SilenceTimeout);

        private void OnProgress(SealedProgress sealedProgress)
        {
            // Numbered from 0, each once: a line replayed or moved is not the daemon's.
            if (_session is null || sealedProgress.DaemonNonce != _daemonNonce || sealedProgress.Sequence < _nextProgress
                || _session.Open(SealedWay.Progress, sealedProgress.Sequence, sealedProgress.Sealed, _daemonNonce) is not { } text
                || RemoteSerializer.ParseProgress(text) is not { } report)
            {
                Ignored("a progress line");
                return;
            }

            _nextProgress = sealedProgress.Sequence + 1;
            HeardFromTheDaemon();
            if (report is not { Source: "", Message: "" })
                _printer?.Tell(report);
        }

        private void OnReply(SealedReply sealedReply)
        {
            if (_session is null || sealedReply.DaemonNonce != _daemonNonce || sealedReply.Parts is < 1 or > MaxReplyParts
                || sealedReply.Part < 0 || sealedReply.Part >= sealedReply.Parts || (_replyParts is not null && _replyParts.Length != sealedReply.Parts)
                || _session.Open(SealedWay.Reply, (ulong)sealedReply.Part, sealedReply.Sealed, GatewaySession.ReplyBinding(_daemonNonce, sealedReply.Parts)) is not { } part)
            {
                // Not the daemon's: another local process answering in its name. Wait for the real one.
                Ignored("a reply");
                return;
            }

            HeardFromTheDaemon();
            _replyParts ??= new string?[sealedReply.Parts];
            _replyParts[sealedReply.Part] = part;
            if (_replyParts.Any(p => p is null))
                return;
            if (RemoteSerializer.ParseReply(string.Concat(_replyParts)) is { } reply)
                _done.TrySetResult(reply);
            else
                Fail("the daemon's reply could not be read (a different version of btw-backup?)");
        }

        private void Ignored(string what) =>
            RefusalLog.For(Context.System).Refused(_log, Sender.Path.Address.ToString(), "cli: ignored " + what, "not sealed by the daemon's token");

        private string Impostor(string what) =>
            $"something listens on {_request.Where} (daemon.port) but {what}: an impostor, or the daemon of another configuration directory; the command was not sent";

        private void Fail(string message) => _done.TrySetResult(CommandReply.Failed([ErrorReport.Prefix + message]));

        private sealed record HandshakeTimedOut;

        private sealed record Silence;

        /// <summary>Parts of a reply, at most (64 Ki characters each): far beyond any listing.</summary>
        private const int MaxReplyParts = 16 * 1024;
    }
}
