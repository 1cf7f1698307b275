using BtwBackup.Protocol;
using Akka.Actor;
using BtwBackup.Hosting;

namespace BtwBackup.Actors;

/// <summary>Shows the latest progress line on a terminal, overwritten in place; cleared before the reply is printed.</summary>
public sealed class ProgressPrinter : ReceiveActor
{
    private bool _shown;

    public ProgressPrinter(TextWriter terminal)
    {
        Receive<ProgressReport>(p =>
        {
            var line = TerminalText.Printable($"[{p.Source}] {p.Message}");
            if (line.Length > 100)
                line = line[..97] + "...";
            terminal.Write("\r\u001b[K" + line);
            terminal.Flush();
            _shown = true;
        });
        Receive<Clear>(_ =>
        {
            if (_shown)
            {
                terminal.Write("\r\u001b[K");
                terminal.Flush();
            }

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
