using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;

namespace BtwBackup.Daemon;

/// <summary>
/// Which senders the door has already logged a refusal of: one line per sender, so that a
/// hostile client cannot fill the log. Shared by the gateway and the log (which sees what
/// remoting refuses before any actor does); one per actor system. Beyond
/// <see cref="MaxSenders"/> senders (a stranger can claim any address) senders are no longer
/// told apart and every refusal is logged, within the log's budget for remoting systems
/// (see Logging.LogBudget), so that a later attacker is never invisible.
/// </summary>
public sealed class RefusalLog : IExtension
{
    public const int MaxSenders = 10_000;

    private readonly ConcurrentDictionary<string, byte> _seen = new(StringComparer.Ordinal);

    /// <summary>True the first time a sender is named, and always once <see cref="MaxSenders"/> have been.</summary>
    public bool FirstFrom(string sender) => _seen.Count >= MaxSenders || _seen.TryAdd(sender, 0);

    /// <summary>Logs a refusal the first time its sender is named.</summary>
    public void Refused(ILoggingAdapter log, string sender, string what, string why)
    {
        if (FirstFrom(sender))
            log.Warning("{0} from {1}: {2} (further refusals of this sender are not logged)", what, sender, why);
    }

    public static RefusalLog For(ActorSystem system) => system.WithExtension<RefusalLog, RefusalLogId>();
}

public sealed class RefusalLogId : ExtensionIdProvider<RefusalLog>
{
    public override RefusalLog CreateExtension(ExtendedActorSystem system) => new();
}
