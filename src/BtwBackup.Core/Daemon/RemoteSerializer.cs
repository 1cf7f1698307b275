using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using System.Runtime.Serialization;
using Akka.Serialization;
using BtwBackup.Protocol;

namespace BtwBackup.Daemon;

/// <summary>
/// The messages between the CLI and the daemon, as JSON with explicit manifests: the CLI and
/// the daemon may be different builds (an upgrade with the daemon still running), so nothing
/// on the wire names a CLR type. Actor references travel as their full paths.
/// </summary>
public sealed class RemoteSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int Id = 4102;

    private const string RequestManifest = "request";
    private const string ReplyManifest = "reply";
    private const string ProgressManifest = "progress";

    public override int Identifier => Id;


    public override string Manifest(object o) => o switch
    {
        DaemonRequest => RequestManifest,
        CommandReply => ReplyManifest,
        ProgressReport => ProgressManifest,
        _ => throw new ArgumentException($"{nameof(RemoteSerializer)} cannot serialize {o.GetType()}"),
    };

    public override byte[] ToBinary(object obj) => obj switch
    {
        DaemonRequest r => JsonSerializer.SerializeToUtf8Bytes(
            new RequestWire(r.Token, r.Command, r.ProgressTo is null ? null : Serialization.SerializedActorPath(r.ProgressTo)), WireJson.Default.RequestWire),
        CommandReply r => JsonSerializer.SerializeToUtf8Bytes(r, WireJson.Default.CommandReply),
        ProgressReport p => JsonSerializer.SerializeToUtf8Bytes(p, WireJson.Default.ProgressReport),
        _ => throw new ArgumentException($"{nameof(RemoteSerializer)} cannot serialize {obj.GetType()}"),
    };

    public override object FromBinary(byte[] bytes, string manifest)
    {
        switch (manifest)
        {
            case RequestManifest:
                var wire = JsonSerializer.Deserialize(bytes, WireJson.Default.RequestWire) ?? throw new SerializationException("empty request");
                var progress = wire.ProgressTo is null ? null : system.Provider.ResolveActorRef(wire.ProgressTo);
                return new DaemonRequest(wire.Token, wire.Command, progress);
            case ReplyManifest:
                return JsonSerializer.Deserialize(bytes, WireJson.Default.CommandReply) ?? throw new SerializationException("empty reply");
            case ProgressManifest:
                return JsonSerializer.Deserialize(bytes, WireJson.Default.ProgressReport) ?? throw new SerializationException("empty progress");
            default:
                throw new SerializationException($"unknown manifest '{manifest}' (a newer btw-backup on the other side?)");
        }
    }
}

/// <summary>A request as it travels: the progress actor as its path.</summary>
internal sealed record RequestWire(string Token, CliCommand Command, string? ProgressTo);

/// <summary>Generated (not reflected) JSON for the wire types: the CLI pays no serializer warm-up per command.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(RequestWire))]
[JsonSerializable(typeof(CommandReply))]
[JsonSerializable(typeof(ProgressReport))]
internal sealed partial class WireJson : JsonSerializerContext;
