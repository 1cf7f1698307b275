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

    /// <summary>Longer sender addresses (a stranger chooses them) are kept as a hash and shown cut.</summary>
    public const int MaxShown = 200;

    /// <summary>
    /// True the first time a sender is named, and always once <see cref="MaxSenders"/> have been,
    /// or when the sender is not known (<see cref="UnknownSender"/>).
    /// </summary>
    public bool FirstFrom(string sender) =>
        sender == UnknownSender || _seen.Count >= MaxSenders || _seen.TryAdd(sender.Length <= MaxShown ? sender : Hash(sender), 0);

    /// <summary>What a refusal names when remoting did not say who sent it.</summary>
    public const string UnknownSender = "an unknown sender";

    /// <summary>A sender's address as a log line shows it: cut at <see cref="MaxShown"/> characters.</summary>
    public static string Shown(string sender) => sender.Length <= MaxShown ? sender : $"{sender[..MaxShown]}... ({sender.Length} characters)";

    /// <summary>Logs a refusal the first time its sender is named.</summary>
    public void Refused(ILoggingAdapter log, string sender, string what, string why)
    {
        if (FirstFrom(sender))
            log.Warning("{0} from {1}: {2} (further refusals of this sender are not logged)", what, Shown(sender), why);
    }

    private static string Hash(string sender) => "#" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(sender)));

    public static RefusalLog For(ActorSystem system) => system.WithExtension<RefusalLog, RefusalLogId>();
}

public sealed class RefusalLogId : ExtensionIdProvider<RefusalLog>
{
    public override RefusalLog CreateExtension(ExtendedActorSystem system) => new();
}
