using System.Collections.Concurrent;
using Akka.Actor;

namespace BtwBackup.Daemon;

/// <summary>
/// Which senders the door has already logged a refusal of: one line per sender, so that a
/// hostile client cannot fill the log. Shared by the gateway and the log (which sees what
/// remoting refuses before any actor does); one per actor system.
/// </summary>
public sealed class RefusalLog : IExtension
{
    /// <summary>Beyond this many senders, refusals are no longer logged at all.</summary>
    public const int MaxSenders = 10_000;

    private readonly ConcurrentDictionary<string, byte> _seen = new(StringComparer.Ordinal);

    /// <summary>True the first time a sender is named (and while fewer than <see cref="MaxSenders"/> have been).</summary>
    public bool FirstFrom(string sender) => _seen.Count < MaxSenders && _seen.TryAdd(sender, 0);

    public static RefusalLog For(ActorSystem system) => system.WithExtension<RefusalLog, RefusalLogId>();
}

public sealed class RefusalLogId : ExtensionIdProvider<RefusalLog>
{
    public override RefusalLog CreateExtension(ExtendedActorSystem system) => new();
}
