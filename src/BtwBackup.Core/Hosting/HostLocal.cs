using Akka.Actor;

namespace BtwBackup.Hosting;

/// <summary>
/// Props of the actors built on this process's own resources (a backup procedure, an object
/// store and its journal, status.json, the daemon's secret, a terminal): created on the host
/// whose data and files they hold, never deployed to another. Declared, so that
/// <c>akka.actor.serialize-creators</c> checks the arguments of every other actor (they
/// must be data, as the messages are) and exempts only these.
/// </summary>
public static class HostLocal
{
    public static Props OnThisHost(this Props props) => props.WithDeploy(Deploy.Local);
}
