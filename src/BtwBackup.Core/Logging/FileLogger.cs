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

    public FileLogger()
    {
        var path = Context.System.Settings.Config.GetString(PathKey, null);
        var file = string.IsNullOrEmpty(path) ? null : new LogFile(path);
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e =>
        {
            if (file is null)
                return;
            var message = e.Cause is null ? e.Message?.ToString() ?? "" : $"{e.Message} {e.Cause}";
            file.Write(Level(e.LogLevel()), e.LogSource, message);
        });
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.DebugLevel => "DEBUG",
        LogLevel.InfoLevel => "INFO",
        LogLevel.WarningLevel => "WARNING",
        _ => "ERROR",
    };
}
