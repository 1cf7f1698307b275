using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using BtwBackup.Config;
using BtwBackup.Hosting;
using BtwBackup.Protocol;

namespace BtwBackup.Daemon;

/// <summary>
/// The CLI's side of the daemon. Finding out whether one serves costs one TCP connect (tens of
/// milliseconds when nobody listens), before any actor system starts. Only then does the CLI
/// start a small remoting client and run the handshake (see DaemonProtocol.cs): the
/// daemon must prove it holds the token before the command is sent, and must sign its reply;
/// the CLI watches it meanwhile, so that a daemon that dies mid-command is reported instead of
/// waited for forever.
/// </summary>
public static class DaemonClient
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);

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
        var loopback = daemon.Hostname is "127.0.0.1" or "::1" or "localhost";
        var system = ActorSystem.Create(BackupHost.SystemName + "-cli", BackupHost.RemoteConfig(settings, loopback ? daemon.Hostname : "0.0.0.0", 0));
        try
        {
            // Sent to the gateway's path: no actor selection, no lookup that an impostor could answer.
            var gateway = ((ExtendedActorSystem)system).Provider.ResolveActorRef($"akka.tcp://{BackupHost.SystemName}@{where}/user/{Gateway.Name}");
            var printer = ProgressDisplay.Start(system, progress);
            var done = new TaskCompletionSource<CommandReply>(TaskCreationOptions.RunContinuationsAsynchronously);
            var request = new PendingRequest(new DaemonAuth(token), RemoteSerializer.CommandText(command),
                printer?.Path.ToSerializationFormatWithAddress(((ExtendedActorSystem)system).Provider.DefaultAddress), where, settings.ConfigDir);
            system.ActorOf(Props.Create(() => new Waiter(gateway, request, done)), "waiter");
            CommandReply reply;
            await using (ct.Register(() => done.TrySetCanceled(ct)))
                reply = await done.Task;
            await ProgressDisplay.ClearAsync(printer);
            return reply;
        }
        finally
        {
            await Logging.FileLogger.FlushAsync(system, TimeSpan.FromSeconds(2));
            // Awaited: leaving the association abruptly puts a stack trace in the daemon's log.
            await system.Terminate();
        }
    }

    private sealed record PendingRequest(DaemonAuth Auth, string CommandText, string? ProgressTo, string Where, string ConfigDir);

    /// <summary>
    /// Runs the handshake, sends the request once the daemon has proved itself, and waits for a
    /// reply it signed, or for its death. A challenge or a reply that does not prove the token
    /// ends the command with an error, before anything (or anything more) is sent.
    /// </summary>
    private sealed class Waiter : ReceiveActor, IWithTimers
    {
        private readonly IActorRef _gateway;
        private readonly PendingRequest _request;
        private readonly TaskCompletionSource<CommandReply> _done;
        private readonly string _clientNonce = DaemonAuth.NewNonce();
        private string? _daemonNonce;

        public ITimerScheduler Timers { get; set; } = null!;

        public Waiter(IActorRef gateway, PendingRequest request, TaskCompletionSource<CommandReply> done)
        {
            _gateway = gateway;
            _request = request;
            _done = done;
            Receive<Challenge>(OnChallenge);
            Receive<SignedReply>(OnReply);
            Receive<HandshakeTimedOut>(_ => Fail(_daemonNonce is null
                ? Impostor("does not answer as btw-backup's daemon")
                : "the daemon accepted no command"));
            Receive<Terminated>(_ => Fail(_daemonNonce is null
                ? Impostor("is not btw-backup's daemon")
                : "the daemon stopped before it answered: the command may not have finished (btw-backup status tells; what was not synced stays pending)"));
        }

        protected override void PreStart()
        {
            Context.Watch(_gateway);
            Timers.StartSingleTimer(nameof(HandshakeTimedOut), new HandshakeTimedOut(), HandshakeTimeout);
            _gateway.Tell(new Hello(_clientNonce));
        }

        private void OnChallenge(Challenge challenge)
        {
            if (_daemonNonce is not null)
                return;
            if (challenge.ClientNonce != _clientNonce || !DaemonAuth.IsNonce(challenge.DaemonNonce)
                || !DaemonAuth.Same(_request.Auth.DaemonProof(_clientNonce, challenge.DaemonNonce), challenge.Proof))
            {
                Fail(Impostor("cannot prove it holds " + Path.Combine(_request.ConfigDir, DaemonToken.FileName)));
                return;
            }

            Timers.Cancel(nameof(HandshakeTimedOut));
            _daemonNonce = challenge.DaemonNonce;
            var proof = _request.Auth.RequestProof(_clientNonce, _daemonNonce, _request.CommandText, _request.ProgressTo);
            _gateway.Tell(new DaemonRequest(_daemonNonce, proof, _request.CommandText, _request.ProgressTo));
        }

        private void OnReply(SignedReply signed)
        {
            if (_daemonNonce is null || signed.DaemonNonce != _daemonNonce
                || !DaemonAuth.Same(_request.Auth.ReplyProof(_clientNonce, _daemonNonce, signed.ReplyText), signed.Proof))
            {
                // Not the daemon's: another local process answering in its name. Wait for the real one.
                Context.GetLogger().Warning("cli: ignored a reply that the daemon did not sign, from {0}", Sender.Path.Address);
                return;
            }

            if (RemoteSerializer.ParseReply(signed.ReplyText) is { } reply)
                _done.TrySetResult(reply);
            else
                Fail("the daemon's reply could not be read (a different version of btw-backup?)");
        }

        private string Impostor(string what) =>
            $"something listens on {_request.Where} (daemon.port) but {what}: an impostor, or the daemon of another configuration directory; the command was not sent";

        private void Fail(string message) => _done.TrySetResult(CommandReply.Failed([ErrorReport.Prefix + message]));

        private sealed record HandshakeTimedOut;
    }
}
