using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Dispatch.SysMsg;
using Akka.Remote.Serialization;
using Akka.Serialization;
using HoconConfig = Akka.Configuration.Config;

namespace BtwBackup.Daemon;

/// <summary>
/// Akka's serializers that build objects from names the wire carries (Newtonsoft JSON's $type,
/// protobuf type names, remote deployment, exceptions inside Status.Failure or a Failed system
/// message), replaced on the two remoting systems (the daemon's door and the CLI's client) by
/// ones that refuse, under the same identifiers: whatever a sender names, only btw-backup's own
/// wire messages (<see cref="RemoteSerializer"/>) are ever built. See hocon/remoting.conf.
/// </summary>
public abstract class RefusingSerializer(ExtendedActorSystem system, int identifier, string what) : Serializer(system)
{
    public override int Identifier => identifier;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj) =>
        throw new SerializationException($"{obj.GetType().Name} cannot cross btw-backup's door: only its own wire messages do");

    public override object FromBinary(byte[] bytes, Type type) => throw new RefusedMessageException(what);
}

/// <summary>Thrown for a message from the wire that btw-backup refuses to build; its remoting logs it once per sender.</summary>
public sealed class RefusedMessageException(string what) : SerializationException($"refused {what}: not one of btw-backup's wire messages")
{
    public string What { get; } = what;
}

// Akka builds a serializer with its serialization-settings block when it has one: each takes both.

/// <summary>Stands for Newtonsoft JSON (id 1), which builds any type its $type names.</summary>
public sealed class RefusedJsonSerializer : RefusingSerializer
{
    public RefusedJsonSerializer(ExtendedActorSystem system) : base(system, 1, "a JSON message (the default serializer)") { }

    public RefusedJsonSerializer(ExtendedActorSystem system, HoconConfig _) : this(system) { }
}

/// <summary>Stands for the protobuf serializer (id 2), which builds any message type its manifest names.</summary>
public sealed class RefusedProtobufSerializer : RefusingSerializer
{
    public RefusedProtobufSerializer(ExtendedActorSystem system) : base(system, 2, "a protobuf message") { }

    public RefusedProtobufSerializer(ExtendedActorSystem system, HoconConfig _) : this(system) { }
}

/// <summary>Stands for remote deployment (id 3): nobody deploys actors into btw-backup.</summary>
public sealed class RefusedDeploymentSerializer : RefusingSerializer
{
    public RefusedDeploymentSerializer(ExtendedActorSystem system) : base(system, 3, "a remote deployment") { }

    public RefusedDeploymentSerializer(ExtendedActorSystem system, HoconConfig _) : this(system) { }
}

/// <summary>Stands for raw bytes (id 4): nothing of btw-backup's is raw bytes.</summary>
public sealed class RefusedBytesSerializer : RefusingSerializer
{
    public RefusedBytesSerializer(ExtendedActorSystem system) : base(system, 4, "a raw byte message") { }

    public RefusedBytesSerializer(ExtendedActorSystem system, HoconConfig _) : this(system) { }
}

/// <summary>Stands for actor selections (id 6): the CLI sends to the gateway's path, it never selects.</summary>
public sealed class RefusedSelectionSerializer : RefusingSerializer
{
    public RefusedSelectionSerializer(ExtendedActorSystem system) : base(system, 6, "an actor selection") { }

    public RefusedSelectionSerializer(ExtendedActorSystem system, HoconConfig _) : this(system) { }
}

/// <summary>Stands for strings and numbers (id 17): nothing of btw-backup's is a bare string.</summary>
public sealed class RefusedPrimitiveSerializer : RefusingSerializer
{
    public RefusedPrimitiveSerializer(ExtendedActorSystem system) : base(system, 17, "a bare string or number") { }

    public RefusedPrimitiveSerializer(ExtendedActorSystem system, HoconConfig _) : this(system) { }
}

/// <summary>
/// Stands for Akka's miscellaneous messages (id 16): Identify, PoisonPill, Kill, Status.Failure
/// (an exception by type name), configurations, routers and remote watch heartbeats. Nothing of
/// btw-backup's door needs them: the CLI notices a daemon that dies by its connection closing.
/// </summary>
public sealed class RefusedMiscSerializer : RefusingSerializer
{
    public RefusedMiscSerializer(ExtendedActorSystem system) : base(system, 16, "one of Akka's miscellaneous messages (Identify, PoisonPill, Kill, heartbeats...)") { }

    public RefusedMiscSerializer(ExtendedActorSystem system, HoconConfig _) : this(system) { }
}

/// <summary>
/// Stands for Akka's system messages (id 22): Watch, Terminate, Supervise, Failed (an exception by
/// type name)... No remote death watch crosses the door; a forged "the daemon terminated" cannot.
/// </summary>
public sealed class RefusedSystemMessageSerializer : RefusingSerializer
{
    public RefusedSystemMessageSerializer(ExtendedActorSystem system) : base(system, 22, "an Akka system message (Watch, Terminate...)") { }

    public RefusedSystemMessageSerializer(ExtendedActorSystem system, HoconConfig _) : this(system) { }
}
