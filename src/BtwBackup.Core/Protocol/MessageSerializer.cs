using System.Reflection;
using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;

namespace BtwBackup.Protocol;

/// <summary>
/// A message between btw-backup's actors: data only (records of strings, numbers, times,
/// collections, actor references and other messages), never a delegate, a task, an exception
/// or an actor-system object, so that it can cross a process boundary as it is.
/// </summary>
public interface IMessage;

/// <summary>
/// Serializes every <see cref="IMessage"/> as JSON (System.Text.Json): the manifest is the type's
/// full name, read back only as a type of this assembly that is a message; a field declared
/// abstract (a job, a command, a destination's reply) carries its concrete type's name, checked
/// the same way; actor references travel as their serialized paths. Bound in the work system
/// (and the actor tests, with serialize-messages on) only: the daemon's door, reachable from
/// outside, never knows this serializer (see hocon/remoting.conf).
/// </summary>
public sealed class MessageSerializer : SerializerWithStringManifest
{
    public const int Id = 4103;

    /// <summary>The binding, for the work system's configuration.</summary>
    public const string Config = """
        akka.actor {
          serializers.btw-messages = "BtwBackup.Protocol.MessageSerializer, BtwBackup.Core"
          serialization-bindings { "BtwBackup.Protocol.IMessage, BtwBackup.Core" = btw-messages }
          serialization-identifiers { "BtwBackup.Protocol.MessageSerializer, BtwBackup.Core" = 4103 }
        }
        """;

    private readonly JsonSerializerOptions _options;

    public MessageSerializer(ExtendedActorSystem system)
        : base(system)
    {
        _options = new JsonSerializerOptions
        {
            Converters =
            {
                new ActorRefConverter(system),
                new TimeZoneConverter(),
                new CronConverter(),
                new Polymorphic(),
            },
        };
    }

    public override int Identifier => Id;

    public override string Manifest(object o) => o.GetType().FullName!;

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), _options);

    public override object FromBinary(byte[] bytes, string manifest) =>
        JsonSerializer.Deserialize(bytes, TypeIn(manifest, typeof(IMessage), "btw-backup message type"), _options)
        ?? throw new SerializationException("an empty message: " + manifest);

    /// <summary>
    /// A concrete, declared (not compiler-generated) type of this assembly named <paramref name="name"/>
    /// that is a <paramref name="declared"/>; anything else is refused as "not a <paramref name="what"/>".
    /// </summary>
    private static Type TypeIn(string name, Type declared, string what) =>
        typeof(IMessage).Assembly.GetType(name, throwOnError: false) is { } type && declared.IsAssignableFrom(type) && !type.IsAbstract
            && type.GetCustomAttribute<System.Runtime.CompilerServices.CompilerGeneratedAttribute>() is null
            ? type
            : throw new SerializationException($"not a {what}: '{name}'");

    /// <summary>An actor reference as its serialized path (the dead letters for ActorRefs.Nobody, which has none).</summary>
    private sealed class ActorRefConverter(ExtendedActorSystem system) : JsonConverter<IActorRef>
    {
        private const string Nobody = "nobody";

        public override bool CanConvert(Type typeToConvert) => typeof(IActorRef).IsAssignableFrom(typeToConvert);

        public override IActorRef Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetString() is { } path && path != Nobody ? system.Provider.ResolveActorRef(path) : ActorRefs.Nobody;

        public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.IsNobody() ? Nobody : Akka.Serialization.Serialization.SerializedActorPath(value));
    }

    private sealed class TimeZoneConverter : JsonConverter<TimeZoneInfo>
    {
        public override TimeZoneInfo Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            TimeZoneInfo.FindSystemTimeZoneById(reader.GetString()!);

        public override void Write(Utf8JsonWriter writer, TimeZoneInfo value, JsonSerializerOptions options) => writer.WriteStringValue(value.Id);
    }

    private sealed class CronConverter : JsonConverter<Cronos.CronExpression>
    {
        // Cronos writes an expression as it was read: five fields, or six with the seconds.
        public override Cronos.CronExpression Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var text = reader.GetString()!;
            return Cronos.CronExpression.Parse(text, text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 6 ? Cronos.CronFormat.IncludeSeconds : Cronos.CronFormat.Standard);
        }

        public override void Write(Utf8JsonWriter writer, Cronos.CronExpression value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.ToString());
    }

    /// <summary>A field declared as an abstract type or an interface of this assembly: <c>{"type": NAME, "value": ...}</c>.</summary>
    private sealed class Polymorphic : JsonConverterFactory
    {
        // A type that declares its own discriminators ([JsonPolymorphic], the CLI's commands) keeps them.
        public override bool CanConvert(Type typeToConvert) =>
            (typeToConvert.IsAbstract || typeToConvert.IsInterface) && typeToConvert.Assembly == typeof(IMessage).Assembly
            && typeToConvert.GetCustomAttribute<JsonPolymorphicAttribute>() is null;

        public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
            (JsonConverter)Activator.CreateInstance(typeof(PolymorphicOf<>).MakeGenericType(typeToConvert))!;
    }

    private sealed class PolymorphicOf<T> : JsonConverter<T>
        where T : class
    {
        public override T? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            var type = TypeIn(root.GetProperty("type").GetString() ?? "", typeToConvert, typeToConvert.Name);
            return (T?)root.GetProperty("value").Deserialize(type, options);
        }

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
        {
            writer.WriteStartObject();
            writer.WriteString("type", value.GetType().FullName);
            writer.WritePropertyName("value");
            JsonSerializer.Serialize(writer, value, value.GetType(), options);
            writer.WriteEndObject();
        }
    }
}
