using BtwBackup.Protocol;
using Akka.Actor;
using BtwBackup.Hosting;

namespace BtwBackup.Actors;

/// <summary>The latest progress line on a terminal, overwritten in place; cleared before the reply is printed. Thread-safe.</summary>
public sealed class TerminalProgress(TextWriter terminal, string source) : IProgress<string>
{
    private readonly Lock _lock = new();
    private bool _shown;

    public void Report(string value) => Show(source, value);

    public void Show(string from, string message)
    {
        var line = TerminalText.Printable($"[{from}] {message}");
        if (line.Length > 100)
            line = line[..97] + "...";
        lock (_lock)
        {
            terminal.Write("\r\u001b[K" + line);
            terminal.Flush();
            _shown = true;
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            if (!_shown)
                return;
            terminal.Write("\r\u001b[K");
            terminal.Flush();
            _shown = false;
        }
    }
}

/// <summary>A <see cref="TerminalProgress"/> as an actor: what the Orchestrator's work reports, in the order it arrives.</summary>
public sealed class ProgressPrinter : ReceiveActor
{
    public ProgressPrinter(TextWriter terminal)
    {
        var line = new TerminalProgress(terminal, "");
        Receive<ProgressReport>(p => line.Show(p.Source, p.Message));
        Receive<Clear>(_ =>
        {
            line.Clear();
            Sender.Tell(new Cleared());
        });
    }

    public static Props Props(TextWriter terminal) => Akka.Actor.Props.Create(() => new ProgressPrinter(terminal)).OnThisHost();

    public sealed record Clear : IMessage;

    public sealed record Cleared : IMessage;
}

/// <summary>The CLI's use of a <see cref="ProgressPrinter"/>, in-process or as a client of the daemon.</summary>
public static class ProgressDisplay
{
    /// <summary>Starts a printer on <paramref name="terminal"/> (null: no progress shown).</summary>
    public static IActorRef? Start(ActorSystem system, TextWriter? terminal) =>
        terminal is null ? null : system.ActorOf(ProgressPrinter.Props(terminal), "progress");

    /// <summary>Erases the progress line, so that the reply prints on a clean line.</summary>
    public static async Task ClearAsync(IActorRef? printer)
    {
        if (printer is not null)
            await printer.Ask<ProgressPrinter.Cleared>(new ProgressPrinter.Clear(), TimeSpan.FromSeconds(5), CancellationToken.None);
    }
}
