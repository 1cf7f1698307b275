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

    public override string Manifest(object o) => o switch
    {
        PushRequested => "push-requested",
        PushDone => "push-done",
        SyncRequested => "sync-requested",
        SyncDone => "sync-done",
        StateReset => "state-reset",
        DeletionPlanned => "deletion-planned",
        SyncState => "sync-state",
        _ => throw new ArgumentException("cannot serialize " + o.GetType().Name, nameof(o)),
    };

    public override byte[] ToBinary(object obj)
    {
        JsonObject json = obj switch
        {
            PushRequested e => Event(e, e.Path),
            PushDone e => Event(e, e.Path),
            SyncRequested e => Event(e, e.Path),
            SyncDone e => Event(e, e.Path),
            StateReset e => Event(e, null),
            DeletionPlanned e => Event(e, e.Path),
            SyncState s => new JsonObject
            {
                ["push"] = new JsonArray([.. s.MustPush.Select(p => (JsonNode)p)]),
                ["sync"] = new JsonArray([.. s.MustSync.Select(p => (JsonNode)p)]),
                ["planned"] = new JsonArray([.. s.Planned.Select(p => (JsonNode)p)]),
            },
            _ => throw new ArgumentException("cannot serialize " + obj.GetType().Name, nameof(obj)),
        };
        return Encoding.UTF8.GetBytes(json.ToJsonString());
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        var json = JsonNode.Parse(bytes)?.AsObject() ?? throw new System.Runtime.Serialization.SerializationException("empty " + manifest);
        if (manifest == "sync-state")
        {
            return new SyncState(
                [.. json["push"]!.AsArray().Select(n => n!.GetValue<string>())],
                [.. json["sync"]!.AsArray().Select(n => n!.GetValue<string>())])
            {
                // Snapshots written before planned deletions existed have none.
                Planned = [.. json["planned"]?.AsArray().Select(n => n!.GetValue<string>()) ?? []],
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
            _ => throw new System.Runtime.Serialization.SerializationException("unknown manifest " + manifest),
        };
    }

    private static JsonObject Event(SyncEvent e, string? path)
    {
        var json = new JsonObject { ["at"] = e.At.ToUniversalTime() };
        if (path is not null)
            json["path"] = path;
        return json;
    }
}
