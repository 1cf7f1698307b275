using Akka.Actor;
using BtwBackup.Protocol;

namespace BtwBackup.Daemon;

/// <summary>
/// A command from the CLI to the daemon's gateway, over Akka.Remote. The reply is a
/// <see cref="CommandReply"/>; progress lines go to <see cref="ProgressTo"/> (an actor of the
/// client). <see cref="Token"/> is the content of CONFIG_DIR/daemon.token.
/// </summary>
public sealed record DaemonRequest(string Token, CliCommand Command, IActorRef? ProgressTo)
{
    // Never print the token: records put every property in ToString, and messages end up in logs.
    public override string ToString() => $"DaemonRequest {{ Command = {Command}, ProgressTo = {ProgressTo} }}";
}
