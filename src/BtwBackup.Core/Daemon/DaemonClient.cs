using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using BtwBackup.Config;
using BtwBackup.Hosting;
using BtwBackup.Protocol;

namespace BtwBackup.Daemon;

/// <summary>
/// The CLI's side of the daemon. Finding out whether one serves costs one TCP connect (tens of
/// milliseconds when nobody listens), before any actor system starts; only then does the CLI
/// start a small remoting client, find the gateway, and wait for the reply while watching the
/// daemon, so that a daemon that dies mid-command is reported instead of waited for forever.
/// </summary>
public static class DaemonClient
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(10);

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
        var token = DaemonToken.Read(settings.ConfigDir) ?? "";
        var loopback = daemon.Hostname is "127.0.0.1" or "::1" or "localhost";
        var config = BackupHost.RemoteConfig(loopback ? daemon.Hostname : "0.0.0.0", 0)
            .WithFallback(BackupHost.BaseConfig(settings));
        var system = ActorSystem.Create(BackupHost.SystemName + "-cli", config);
        try
        {
            IActorRef gateway;
            try
            {
                gateway = await system.ActorSelection($"akka.tcp://{BackupHost.SystemName}@{daemon.Hostname}:{daemon.Port}/user/{Gateway.Name}")
                    .ResolveOne(ResolveTimeout, ct);
            }
            catch (ActorNotFoundException)
            {
                throw new ConfigException($"something listens on {daemon.Hostname}:{daemon.Port} (daemon.port) but no btw-backup daemon answers there");
            }

            var printer = ProgressDisplay.Start(system, progress);
            var done = new TaskCompletionSource<CommandReply>(TaskCreationOptions.RunContinuationsAsynchronously);
            system.ActorOf(Props.Create(() => new Waiter(gateway, new DaemonRequest(token, command, printer), done)), "waiter");
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

    /// <summary>Sends the request and waits for the reply, or for the daemon's death.</summary>
    private sealed class Waiter : ReceiveActor
    {
        public Waiter(IActorRef gateway, DaemonRequest request, TaskCompletionSource<CommandReply> done)
        {
            Context.Watch(gateway);
            Receive<CommandReply>(r => done.TrySetResult(r));
            Receive<Terminated>(_ => done.TrySetResult(CommandReply.Failed([ErrorReport.Prefix +
                "the daemon stopped before it answered: the command may not have finished (btw-backup status tells; what was not synced stays pending)"])));
            gateway.Tell(request);
        }
    }
}
