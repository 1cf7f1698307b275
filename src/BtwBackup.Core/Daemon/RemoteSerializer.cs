using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;
using BtwBackup.Protocol;

namespace BtwBackup.Daemon;

/// <summary>
/// The messages between the CLI and the daemon, as JSON with explicit manifests: the CLI and
/// the daemon may be different builds (an upgrade with the daemon still running), so nothing
/// on the wire names a CLR type, and nothing is built from a name the wire carries: a command is
/// one of a closed list of records.
/// </summary>
public sealed class RemoteSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int Id = 4102;

    private const string HelloManifest = "hello";
    private const string ChallengeManifest = "challenge";
    private const string RequestManifest = "request";
    private const string ReplyManifest = "sealed-reply";
    private const string ProgressManifest = "sealed-progress";

    public override int Identifier => Id;

    public override string Manifest(object o) => o switch
    {
        Hello => HelloManifest,
        Challenge => ChallengeManifest,
        DaemonRequest => RequestManifest,
        SealedReply => ReplyManifest,
        SealedProgress => ProgressManifest,
        _ => throw new ArgumentException($"{nameof(RemoteSerializer)} cannot serialize {o.GetType()}"),
    };

    public override byte[] ToBinary(object obj) => obj switch
    {
        Hello h => JsonSerializer.SerializeToUtf8Bytes(h, WireJson.Default.Hello),
        Challenge c => JsonSerializer.SerializeToUtf8Bytes(c, WireJson.Default.Challenge),
        DaemonRequest r => JsonSerializer.SerializeToUtf8Bytes(r, WireJson.Default.DaemonRequest),
        SealedReply r => JsonSerializer.SerializeToUtf8Bytes(r, WireJson.Default.SealedReply),
        SealedProgress p => JsonSerializer.SerializeToUtf8Bytes(p, WireJson.Default.SealedProgress),
        _ => throw new ArgumentException($"{nameof(RemoteSerializer)} cannot serialize {obj.GetType()}"),
    };

    public override object FromBinary(byte[] bytes, string manifest)
    {
        try
        {
            switch (manifest)
            {
                case HelloManifest:
                    return JsonSerializer.Deserialize(bytes, WireJson.Default.Hello) ?? throw Empty(manifest);
                case ChallengeManifest:
                    return JsonSerializer.Deserialize(bytes, WireJson.Default.Challenge) ?? throw Empty(manifest);
                case RequestManifest:
                    return JsonSerializer.Deserialize(bytes, WireJson.Default.DaemonRequest) ?? throw Empty(manifest);
                case ReplyManifest:
                    return JsonSerializer.Deserialize(bytes, WireJson.Default.SealedReply) ?? throw Empty(manifest);
                case ProgressManifest:
                    return JsonSerializer.Deserialize(bytes, WireJson.Default.SealedProgress) ?? throw Empty(manifest);
                default:
                    throw new SerializationException($"unknown manifest '{manifest}' (a newer btw-backup on the other side?)");
            }
        }
        catch (JsonException e)
        {
            throw new SerializationException($"malformed '{manifest}' message: {e.Message}");
        }
    }

    /// <summary>The text a request seals.</summary>
    public static string CommandText(CliCommand command) => JsonSerializer.Serialize(command, WireJson.Default.CliCommand);

    /// <summary>The command of an opened request; null when the text is none of btw-backup's commands.</summary>
    public static CliCommand? ParseCommand(string text) => Parse(text, WireJson.Default.CliCommand);

    /// <summary>The text a reply seals.</summary>
    public static string ReplyText(CommandReply reply) => JsonSerializer.Serialize(reply, WireJson.Default.CommandReply);

    /// <summary>The reply of an opened <see cref="SealedReply"/>; null when the text is not one.</summary>
    public static CommandReply? ParseReply(string text) => Parse(text, WireJson.Default.CommandReply);

    /// <summary>The text a progress line seals.</summary>
    public static string ProgressText(ProgressReport report) => JsonSerializer.Serialize(report, WireJson.Default.ProgressReport);

    /// <summary>The line of an opened <see cref="SealedProgress"/>; null when the text is not one.</summary>
    public static ProgressReport? ParseProgress(string text) => Parse(text, WireJson.Default.ProgressReport);

    private static T? Parse<T>(string text, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(text, type);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            return null;
        }
    }

    private static SerializationException Empty(string manifest) => new($"empty '{manifest}' message");
}

/// <summary>Generated (not reflected) JSON for the wire types: the CLI pays no serializer warm-up per command.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(Hello))]
[JsonSerializable(typeof(Challenge))]
[JsonSerializable(typeof(DaemonRequest))]
[JsonSerializable(typeof(SealedReply))]
[JsonSerializable(typeof(SealedProgress))]
[JsonSerializable(typeof(CliCommand))]
[JsonSerializable(typeof(CommandReply))]
[JsonSerializable(typeof(ProgressReport))]
internal sealed partial class WireJson : JsonSerializerContext;
