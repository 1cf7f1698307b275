using Akka.Configuration;
using BtwBackup.Protocol;

namespace BtwBackup.Tests.Actors;

/// <summary>
/// The actor specs run with every message serialized and deserialized on its way (as it would be
/// between two hosts), with btw-backup's serializer: a closure, a task, an exception or an
/// actor-system object in a message fails them.
/// </summary>
internal static class SerializedMessages
{
    public static Akka.Configuration.Config Config => ConfigurationFactory.ParseString(MessageSerializer.Config + "\nakka.actor.serialize-messages = on");

    public static Akka.Configuration.Config With(Akka.Configuration.Config other) => Config.WithFallback(other);
}
