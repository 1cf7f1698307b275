using Akka.Configuration;
using BtwBackup.Protocol;

namespace BtwBackup.Tests.Actors;

/// <summary>
/// The actor specs run with every message serialized and deserialized on its way (as it would be
/// between two hosts), with btw-backup's serializer: a closure, a task, an exception or an
/// actor-system object in a message fails them. The arguments of every actor's Props are checked
/// the same way (serialize-creators), except those declared local to their host
/// (<see cref="BtwBackup.Hosting.HostLocal"/>).
/// </summary>
internal static class SerializedMessages
{
    public static Akka.Configuration.Config Config => ConfigurationFactory.ParseString(MessageSerializer.Config + "\nakka.actor.serialize-messages = on\nakka.actor.serialize-creators = on");

    public static Akka.Configuration.Config With(Akka.Configuration.Config other) => Config.WithFallback(other);
}
