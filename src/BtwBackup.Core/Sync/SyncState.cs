using System.Collections.Immutable;
using System.Globalization;
using BtwBackup.Protocol;

namespace BtwBackup.Sync;

/// <summary>What happened to a destination's sync state. Persisted; names are stable (see SyncEventSerializer).</summary>
public abstract record SyncEvent(DateTime At);

/// <summary>A path must be copied to the destination as it is (a new file or folder).</summary>
public sealed record PushRequested(DateTime At, string Path) : SyncEvent(At);

/// <summary>The destination holds the path as pushed.</summary>
public sealed record PushDone(DateTime At, string Path) : SyncEvent(At);

/// <summary>A folder must be made equal on the destination (upload what differs, delete what is gone).</summary>
public sealed record SyncRequested(DateTime At, string Path) : SyncEvent(At);

/// <summary>The destination folder equals the local one.</summary>
public sealed record SyncDone(DateTime At, string Path) : SyncEvent(At);

/// <summary>The state was emptied by <c>sync-state --reset</c> (only ever with nothing pending).</summary>
public sealed record StateReset(DateTime At) : SyncEvent(At);

/// <summary>
/// A plan of the tool (a retention prune) removed a path (a file or a folder, with all under
/// it): the next sync of a folder holding it deletes it on the destination whatever the
/// deletion limits, and nothing else beyond them. Cleared by the sync that covers it.
/// </summary>
public sealed record DeletionPlanned(DateTime At, string Path) : SyncEvent(At);

/// <summary>An encrypted destination's object: the plaintext's MD5 and size, and the ETag of the upload that holds its encryption.</summary>
public sealed record EncryptedObject(string Path, string PlainMd5, string ETag, long Size);

/// <summary>These paths were stored encrypted (what lets a later sync see them unchanged without a key: see <see cref="SyncState.Encrypted"/>).</summary>
public sealed record ObjectsEncrypted(DateTime At, ImmutableList<EncryptedObject> Objects) : SyncEvent(At);

/// <summary>These paths' encrypted objects were deleted from the destination.</summary>
public sealed record ObjectsRemoved(DateTime At, ImmutableList<string> Paths) : SyncEvent(At);

/// <summary>The encrypted manifest of every object (see <see cref="Mirror.ManifestKey"/>) was written as the state now records them.</summary>
public sealed record ManifestWritten(DateTime At, int Objects) : SyncEvent(At);

/// <summary>A command the state decides on: it gives the events to persist, or a refusal.</summary>
public abstract record SyncCommand;

public sealed record RequestPush(string Path) : SyncCommand;

public sealed record RequestSync(string Path) : SyncCommand;

public sealed record CompletePush(string Path) : SyncCommand;

public sealed record CompleteSync(string Path) : SyncCommand;

public sealed record ResetState : SyncCommand;

public sealed record PlanDeletion(string Path) : SyncCommand;

/// <summary>The outcome of <see cref="SyncState.Decide"/>.</summary>
public sealed record Decision(ImmutableList<SyncEvent> Events, string? Refusal)
{
    public static Decision Accept(params SyncEvent[] events) => new([.. events], null);

    public static Decision Refuse(string reason) => new([], reason);
}

/// <summary>
/// A destination's sync state, as the original kept it: the paths that must still be pushed and
/// synced, each in the order it was first requested. A pure value: <see cref="Decide"/> turns a
/// command into events, <see cref="Apply"/> folds an event in; replaying the events of a journal
/// gives the same state back.
/// </summary>
public sealed record SyncState(ImmutableList<string> MustPush, ImmutableList<string> MustSync)
{
    public const string CannotReset = "cannot reset: some files must be synced or pushed";

    public static readonly SyncState Empty = new([], []);

    /// <summary>Where the original kept its state, in the configuration directory (imported once by a destination actor).</summary>
    public const string LegacyFileName = "sync_state";

    /// <summary>Paths a plan removed (see <see cref="DeletionPlanned"/>), until the sync that covers them is done.</summary>
    public ImmutableList<string> Planned { get; init; } = [];

    /// <summary>
    /// An encrypted destination's objects by path: encrypting the same file twice gives other
    /// bytes, so what decides whether a file changed is its plaintext MD5 recorded here, valid
    /// while the listing shows the same ETag. Not pending work, and not sent with the state in
    /// replies (it can be large): only the destination itself uses it.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public ImmutableDictionary<string, EncryptedObject> Encrypted { get; init; } = ImmutableDictionary.Create<string, EncryptedObject>(StringComparer.Ordinal);

    /// <summary>The manifest on the destination lists <see cref="Encrypted"/> as it is (nothing encrypted or removed since it was written).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool ManifestCurrent { get; init; }

    public bool IsEmpty => MustPush.IsEmpty && MustSync.IsEmpty && Planned.IsEmpty;

    /// <summary>Two states are equal when they hold the same paths in the same order.</summary>
    public bool Equals(SyncState? other) =>
        other is not null && MustPush.SequenceEqual(other.MustPush) && MustSync.SequenceEqual(other.MustSync) && Planned.SequenceEqual(other.Planned);

    public override int GetHashCode() => HashCode.Combine(MustPush.Count, MustSync.Count, MustPush.FirstOrDefault(), MustSync.FirstOrDefault());

    public Decision Decide(SyncCommand command, DateTime now)
    {
        now = new DateTime(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        switch (command)
        {
            case RequestPush r:
                CheckPath(r.Path);
                // Asked again while pending: recorded (the history shows it), state unchanged.
                return Decision.Accept(new PushRequested(now, r.Path));
            case RequestSync r:
                CheckPath(r.Path);
                return Decision.Accept(new SyncRequested(now, r.Path));
            case CompletePush c:
                return MustPush.Contains(c.Path) ? Decision.Accept(new PushDone(now, c.Path)) : Decision.Accept();
            case CompleteSync c:
                return MustSync.Contains(c.Path) ? Decision.Accept(new SyncDone(now, c.Path)) : Decision.Accept();
            case ResetState:
                return IsEmpty ? Decision.Accept(new StateReset(now)) : Decision.Refuse(CannotReset);
            case PlanDeletion d:
                CheckPath(d.Path);
                if (d.Path.Length == 0)
                    throw new ArgumentException("a planned deletion cannot be root itself", nameof(command));
                return Planned.Contains(d.Path) ? Decision.Accept() : Decision.Accept(new DeletionPlanned(now, d.Path));
            default:
                throw new ArgumentException("unknown command " + command.GetType().Name, nameof(command));
        }
    }

    public SyncState Apply(SyncEvent e) => e switch
    {
        PushRequested p => MustPush.Contains(p.Path) ? this : this with { MustPush = MustPush.Add(p.Path) },
        PushDone p => this with { MustPush = MustPush.Remove(p.Path) },
        SyncRequested s => MustSync.Contains(s.Path) ? this : this with { MustSync = MustSync.Add(s.Path) },
        SyncDone s => this with { MustSync = MustSync.Remove(s.Path), Planned = Planned.RemoveAll(p => Covers(s.Path, p)) },
        // A reset empties the work; what the destination holds is still what it holds.
        StateReset => Empty with { Encrypted = Encrypted, ManifestCurrent = ManifestCurrent },
        ObjectsEncrypted o => this with { Encrypted = Encrypted.SetItems(o.Objects.Select(x => KeyValuePair.Create(x.Path, x))), ManifestCurrent = false },
        ObjectsRemoved r => this with { Encrypted = Encrypted.RemoveRange(r.Paths), ManifestCurrent = false },
        ManifestWritten => this with { ManifestCurrent = true },
        DeletionPlanned d => Planned.Contains(d.Path) ? this : this with { Planned = Planned.Add(d.Path) },
        _ => throw new ArgumentException("unknown event " + e.GetType().Name, nameof(e)),
    };

    public static SyncState Replay(IEnumerable<SyncEvent> events) => events.Aggregate(Empty, (s, e) => s.Apply(e));

    /// <summary><c>sync-state --list</c>, the original's lines: syncs first, then pushes; then the deletions a plan left to do.</summary>
    /// <summary>The state as <c>sync-state --list</c> reports it.</summary>
    public DestinationPending Pending(string destination) => new(destination, MustSync, MustPush, Planned);

    /// <summary>True when <paramref name="path"/> is <paramref name="folder"/> or lies under it ("" is root, under which everything lies).</summary>
    public static bool Covers(string folder, string path) =>
        folder.Length == 0 || path == folder.TrimEnd('/') || path.StartsWith(folder.TrimEnd('/') + "/", StringComparison.Ordinal);

    /// <summary>A path under root as a user reads it: root itself (the empty path) is ".".</summary>
    public static string Display(string path) => path.Length == 0 ? "." : path;

    private static void CheckPath(string path)
    {
        if (path.StartsWith('/'))
            throw new ArgumentException("path cannot be absolute: " + path, nameof(path));
        if (path.Split('/').Contains(".."))
            throw new ArgumentException("path cannot go above the root: " + path, nameof(path));
    }
}

/// <summary>The original's state-file line format, used for <c>sync-state --history</c> and the legacy import.</summary>
public static class SyncHistoryFormat
{
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss";

    public static string Line(SyncEvent e)
    {
        var at = e.At.ToString(TimeFormat, CultureInfo.InvariantCulture);
        return e switch
        {
            PushRequested p => $"{at} +push {p.Path}",
            PushDone p => $"{at} -push {p.Path}",
            SyncRequested s => $"{at} +sync {s.Path}",
            SyncDone s => $"{at} -sync {s.Path}",
            StateReset => $"{at} reset",
            DeletionPlanned d => $"{at} +delete {d.Path}",
            ObjectsEncrypted o => $"{at} encrypted {o.Objects.Count} object(s)",
            ObjectsRemoved r => $"{at} removed {r.Paths.Count} encrypted object(s)",
            ManifestWritten m => $"{at} manifest of {m.Objects} object(s) written",
            _ => throw new ArgumentException("unknown event " + e.GetType().Name, nameof(e)),
        };
    }

    /// <summary>Parses one line of the original's sync_state file; null for a line that is not one.</summary>
    public static SyncEvent? Parse(string line)
    {
        var parts = line.TrimEnd('\r', '\n').Split(' ', 3);
        if (parts.Length < 2 || !DateTime.TryParseExact(parts[0], TimeFormat, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at))
            return null;
        if (parts.Length == 2)
            return parts[1] == "reset" ? new StateReset(at) : null;
        var path = parts[2];
        return parts[1] switch
        {
            "+push" => new PushRequested(at, path),
            "-push" => new PushDone(at, path),
            "+sync" => new SyncRequested(at, path),
            "-sync" => new SyncDone(at, path),
            "+delete" => new DeletionPlanned(at, path),
            _ => null,
        };
    }
}
