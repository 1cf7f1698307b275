using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Event;
using BtwBackup.Protocol;

namespace BtwBackup.Daemon;

/// <summary>
/// The daemon's door (/user/gateway): a request with the right token goes to the Orchestrator
/// as the CLI's own command, the reply straight back to the client; anything else is refused
/// and logged with where it came from (never with what it presented).
/// </summary>
public sealed class Gateway : ReceiveActor
{
    public const string Name = "gateway";

    public Gateway(string token, IActorRef orchestrator)
    {
        var expected = Encoding.UTF8.GetBytes(token);
        var log = Context.GetLogger();
        Receive<DaemonRequest>(r =>
        {
            var from = Sender.Path.Address;
            if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(r.Token), expected))
            {
                log.Warning("gateway: refused a {0} command from {1}: wrong or missing token", Describe(r.Command), from);
                Sender.Tell(CommandReply.Failed([ErrorReport.Prefix + "the daemon refused the command: wrong token (the CLI sends CONFIG_DIR/" + DaemonToken.FileName + "; run it as the daemon's user, with the daemon's --config-dir)"]));
                return;
            }

            log.Info("gateway: {0} from {1}", Describe(r.Command), from);
            orchestrator.Forward(new ExecuteCommand(r.Command, r.ProgressTo));
        });
        ReceiveAny(m => log.Warning("gateway: ignored a {0} from {1}", m.GetType().Name, Sender.Path.Address));
    }

    public static Props Props(string token, IActorRef orchestrator) => Akka.Actor.Props.Create(() => new Gateway(token, orchestrator));

    private static string Describe(CliCommand command) => command.GetType().Name;
}
