using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace BtwBackup.Logging;

/// <summary>
/// Akka's logger for btw-backup: every log event, Akka's own included, goes to the file named by
/// <c>btw-backup.log-file</c>, never to the console (a successful backup prints nothing).
/// </summary>
public sealed class FileLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    public const string PathKey = "btw-backup.log-file";

    /// <summary>On in the daemon: every line also goes to stdout, for a service manager's journal.</summary>
    public const string EchoKey = "btw-backup.log-stdout";

    /// <summary>Lines per minute a remoting system (door or client) may write, whatever strangers send it.</summary>
    public const int RemotingLinesPerMinute = 120;

    /// <summary>Characters of one line of a remoting system, at most.</summary>
    public const int RemotingLineLength = 2_000;

    /// <summary>A line of Akka's remote transport (connections, handshakes, associations), not of btw-backup's own work.</summary>
    private static bool IsTransport(LogEvent e) =>
        e.LogClass?.Namespace?.StartsWith("Akka.Remote", StringComparison.Ordinal) == true
        || e.LogSource.Contains("Tcp", StringComparison.Ordinal) || e.LogSource.StartsWith("remoting", StringComparison.Ordinal);

    public FileLogger()
    {
        var path = Context.System.Settings.Config.GetString(PathKey, null);
        var provider = Context.System.Settings.Config.GetString("akka.actor.provider", "");
        // A cluster node's transport listens beyond the process too: a stranger whose TLS handshake
        // fails costs a log entry of Akka.Remote's, so those (and only those) share the budget.
        var clusterNode = provider.Contains("cluster", StringComparison.OrdinalIgnoreCase);
        var budget = clusterNode || provider.Contains("remote", StringComparison.OrdinalIgnoreCase)
            ? new LogBudget(RemotingLinesPerMinute, () => DateTimeOffset.UtcNow)
            : null;
        var echo = Context.System.Settings.Config.GetBoolean(EchoKey, false) ? Console.Out : null;
        var file = string.IsNullOrEmpty(path) ? null : new LogFile(path, echo);
        Context.System.EventStream.Subscribe(Self, typeof(FlushLog));
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e =>
        {
            if (file is null || IsClientChurn(e))
                return;
            var message = e.Cause is null ? e.Message?.ToString() ?? "" : $"{e.Message} {e.Cause}";
            if (RefusedBy(e) is { } sender)
            {
                if (!Daemon.RefusalLog.For(Context.System).FirstFrom(sender))
                    return;
                message = $"refused a message from {Daemon.RefusalLog.Shown(sender)}: {(e.Cause as Daemon.RefusedMessageException)?.Message ?? (e.Message?.ToString() ?? "").Split('\n')[0]} (further refusals of this sender are not logged)";
            }

            if (budget is not null && !IsAcceptedCommand(e) && (!clusterNode || IsTransport(e)))
            {
                if (!budget.TryTake(out var heldBack))
                    return;
                if (heldBack > 0)
                    file.Write("WARNING", "log", $"{heldBack} lines of remoting held back since the last written (more than {RemotingLinesPerMinute} a minute: a client flooding the port?)");
                // What a stranger sends can be long (an address of a megabyte): the line is cut.
                if (message.Length > RemotingLineLength)
                    message = $"{message[..RemotingLineLength]}... ({message.Length - RemotingLineLength} more characters)";
            }

            file.Write(Level(e.LogLevel()), e.LogSource, message);
        });
        // Every event published before the flush request is in the file once it is answered.
        Receive<FlushLog>(f => f.Done.TrySetResult());
    }

    /// <summary>The gateway's line for a command that proved the token: never held back.</summary>
    private static bool IsAcceptedCommand(LogEvent e) =>
        e.LogLevel() == LogLevel.InfoLevel && e.LogSource?.EndsWith("/user/" + Daemon.Gateway.Name, StringComparison.Ordinal) == true;

    /// <summary>
    /// Remoting's notes on a CLI client that leaves the daemon (one client per command): its
    /// buffers removed, and, when its exit races the daemon's writer, "disassociated" with a
    /// stack trace. Nothing to act on; only connections to CLI clients are concerned.
    /// </summary>
    private static bool IsClientChurn(LogEvent e)
    {
        if (e.LogSource?.Contains("/system/endpointManager/", StringComparison.Ordinal) != true
            || !e.LogSource.Contains(ClientSystemEscaped, StringComparison.Ordinal))
            return false;
        var message = e.Message?.ToString() ?? "";
        return message.StartsWith("Removing receive buffers", StringComparison.Ordinal)
            || message.Contains("Disassociated", StringComparison.Ordinal)
            || e.Cause?.GetType().Name == "EndpointDisassociatedException";
    }

    /// <summary>
    /// The sender of a message that remoting could not (or would not, see DoorSerializers)
    /// deserialize: its endpoint's reader or writer names it, URL-escaped, in its path. Remoting
    /// says so once for an ordinary message, and twice (then drops the association) for a system
    /// message. Null for any other event.
    /// </summary>
    private static string? RefusedBy(LogEvent e)
    {
        var message = e.Message?.ToString() ?? "";
        if (e.LogSource is not { } source
            || !(e.Cause is Daemon.RefusedMessageException || message.StartsWith("Deserialization failed", StringComparison.Ordinal)
                 || message.Contains(nameof(Daemon.RefusedMessageException), StringComparison.Ordinal)))
            return null;
        // endpointReader-, endpointWriter-, reliableEndpointWriter- (a system message's).
        var match = System.Text.RegularExpressions.Regex.Match(source, "endpoint(?:Reader|Writer)-([^/]+)-[0-9]+(?:/|$)",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase);
        return match.Success ? Uri.UnescapeDataString(match.Groups[1].Value) : Daemon.RefusalLog.UnknownSender;
    }

    /// <summary>The CLI client's actor system name as it appears, URL-escaped, in an endpoint writer's path.</summary>
    private const string ClientSystemEscaped = "%2F%2Fbtw-backup-cli%40";

    /// <summary>Waits until the events logged so far are written (before the actor system stops).</summary>
    public static async Task FlushAsync(ActorSystem system, TimeSpan timeout)
    {
        var request = new FlushLog(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        system.EventStream.Publish(request);
        await Task.WhenAny(request.Done.Task, Task.Delay(timeout));
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.DebugLevel => "DEBUG",
        LogLevel.InfoLevel => "INFO",
        LogLevel.WarningLevel => "WARNING",
        _ => "ERROR",
    };
}

/// <summary>A request to confirm that the log file has caught up.</summary>
public sealed record FlushLog(TaskCompletionSource Done);

/// <summary>
/// Akka's fallback logger, used while the real loggers start and after they stop: it writes
/// nothing, because btw-backup's console belongs to the command's own output.
/// </summary>
public sealed class SilentStdoutLogger : MinimalLogger
{
    protected override void Log(object message)
    {
    }
}
