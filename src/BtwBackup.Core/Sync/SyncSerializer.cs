using System.Collections.Immutable;
using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Serialization;

namespace BtwBackup.Sync;

/// <summary>
/// The serializer of everything persisted in the sync-state journal. Each type has a stable,
/// explicit manifest and a small JSON body, so renaming or moving a class never orphans an
/// existing journal (Akka's default would store CLR type names).
/// </summary>
public sealed class SyncSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int Id = 4101;

    public override int Identifier => Id;

    public override string Manifest(object o) => ManifestOf(o);

    /// <summary>What <see cref="Manifest"/> gives, without an actor system (see <see cref="SyncJournalFile.RecordSyncOfRoot"/>).</summary>
    public static string ManifestOf(object o) => o switch
    {
        PushRequested => "push-requested",
        PushDone => "push-done",
        SyncRequested => "sync-requested",
        SyncDone => "sync-done",
        StateReset => "state-reset",
        DeletionPlanned => "deletion-planned",
        ObjectsEncrypted => "objects-encrypted",
        ObjectsRemoved => "objects-removed",
        ManifestWritten => "manifest-written",
        SyncState => "sync-state",
        _ => throw new ArgumentException("cannot serialize " + o.GetType().Name, nameof(o)),
    };

    public override byte[] ToBinary(object obj) => Encode(obj);

    /// <summary>What <see cref="ToBinary"/> gives, without an actor system (see <see cref="SyncJournalFile.RecordSyncOfRoot"/>).</summary>
    public static byte[] Encode(object obj)
    {
        JsonObject json = obj switch
        {
            PushRequested e => Event(e, e.Path),
            PushDone e => Event(e, e.Path),
            SyncRequested e => Event(e, e.Path),
            SyncDone e => Event(e, e.Path),
            StateReset e => Event(e, null),
            DeletionPlanned e => Event(e, e.Path),
            ObjectsEncrypted e => With(Event(e, null), "objects", Objects(e.Objects)),
            ObjectsRemoved e => With(Event(e, null), "paths", new JsonArray([.. e.Paths.Select(p => (JsonNode)p)])),
            ManifestWritten e => With(Event(e, null), "objects", e.Objects),
            SyncState s => new JsonObject
            {
                ["push"] = new JsonArray([.. s.MustPush.Select(p => (JsonNode)p)]),
                ["sync"] = new JsonArray([.. s.MustSync.Select(p => (JsonNode)p)]),
                ["planned"] = new JsonArray([.. s.Planned.Select(p => (JsonNode)p)]),
                ["encrypted"] = Objects(s.Encrypted.Values.OrderBy(o => o.Path, StringComparer.Ordinal)),
                ["manifest-current"] = s.ManifestCurrent,
            },
            _ => throw new ArgumentException("cannot serialize " + obj.GetType().Name, nameof(obj)),
        };
        return Encoding.UTF8.GetBytes(json.ToJsonString());
    }

    public override object FromBinary(byte[] bytes, string manifest) => Decode(bytes, manifest);

    /// <summary>
    /// What <see cref="FromBinary"/> gives, without an actor system (see <see cref="SyncJournalFile"/>).
    /// A payload that is not what this serializer writes (a damaged journal) is a
    /// <see cref="SyncJournalDamagedException"/> naming it, whatever part is missing, malformed or unknown.
    /// </summary>
    public static object Decode(byte[] bytes, string manifest)
    {
        try
        {
            return DecodeJson(bytes, manifest);
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or System.Text.Json.JsonException
                                      or FormatException or InvalidCastException or ArgumentException or IndexOutOfRangeException)
        {
            throw new SyncJournalDamagedException(manifest, e);
        }
    }

    private static object DecodeJson(byte[] bytes, string manifest)
    {
        var json = JsonNode.Parse(bytes)?.AsObject() ?? throw new SyncJournalDamagedException(manifest, new FormatException("an empty payload"));
        if (manifest == "sync-state")
        {
            return new SyncState(
                [.. json["push"]!.AsArray().Select(n => n!.GetValue<string>())],
                [.. json["sync"]!.AsArray().Select(n => n!.GetValue<string>())])
            {
                // Snapshots written before planned deletions (or encryption) existed have none.
                Planned = [.. json["planned"]?.AsArray().Select(n => n!.GetValue<string>()) ?? []],
                Encrypted = ImmutableDictionary.CreateRange(StringComparer.Ordinal,
                    ReadObjects(json["encrypted"]).Select(o => KeyValuePair.Create(o.Path, o))),
                ManifestCurrent = json["manifest-current"]?.GetValue<bool>() ?? false,
            };
        }

        var at = DateTime.SpecifyKind(json["at"]!.GetValue<DateTime>(), DateTimeKind.Utc);
        string Path() => json["path"]!.GetValue<string>();
        return manifest switch
        {
            "push-requested" => new PushRequested(at, Path()),
            "push-done" => new PushDone(at, Path()),
            "sync-requested" => new SyncRequested(at, Path()),
            "sync-done" => new SyncDone(at, Path()),
            "state-reset" => new StateReset(at),
            "deletion-planned" => new DeletionPlanned(at, Path()),
            "objects-encrypted" => new ObjectsEncrypted(at, [.. ReadObjects(json["objects"])]),
            "objects-removed" => new ObjectsRemoved(at, [.. json["paths"]!.AsArray().Select(n => n!.GetValue<string>())]),
            "manifest-written" => new ManifestWritten(at, json["objects"]!.GetValue<int>()),
            _ => throw new SyncJournalDamagedException(manifest, new FormatException("not an event this version writes")),
        };
    }

    /// <summary>Encrypted objects as [path, plaintext MD5, ETag, size] arrays.</summary>
    private static JsonArray Objects(IEnumerable<EncryptedObject> objects) =>
        new([.. objects.Select(o => (JsonNode)new JsonArray(o.Path, o.PlainMd5, o.ETag, o.Size))]);

    private static IEnumerable<EncryptedObject> ReadObjects(JsonNode? node) =>
        node?.AsArray().Select(n => n!.AsArray()).Select(a => new EncryptedObject(a[0]!.GetValue<string>(), a[1]!.GetValue<string>(), a[2]!.GetValue<string>(), a.Count > 3 ? a[3]!.GetValue<long>() : -1)) ?? [];

    private static JsonObject With(JsonObject json, string name, JsonNode value)
    {
        json[name] = value;
        return json;
    }

    private static JsonObject Event(SyncEvent e, string? path)
    {
        var json = new JsonObject { ["at"] = e.At.ToUniversalTime() };
        if (path is not null)
            json["path"] = path;
        return json;
    }
}

/// <summary>
/// A row of the sync-state journal that is not what <see cref="SyncSerializer"/> writes: named,
/// with the way back (a new state from a full sync), never an "unexpected error".
/// </summary>
public sealed class SyncJournalDamagedException(string manifest, Exception cause)
    : System.Runtime.Serialization.SerializationException(
        $"a damaged {manifest} in the sync-state journal ({cause.Message}): move the journal aside ({Hosting.PersistenceConfig.FileName} in the configuration " +
        "directory, or its tables in PostgreSQL) and run btw-backup sync --full, which compares every file with the destinations and starts a new state",
        cause);
