using Akka.Actor;
using BtwBackup.Protocol;

namespace BtwBackup.Cli;

/// <summary>Shows the latest progress line on a terminal, overwritten in place; cleared before the reply is printed.</summary>
public sealed class ProgressPrinter : ReceiveActor
{
    private bool _shown;

    public ProgressPrinter(TextWriter terminal)
    {
        Receive<ProgressReport>(p =>
        {
            var line = $"[{p.Source}] {p.Message}";
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

    public static Props Props(TextWriter terminal) => Akka.Actor.Props.Create(() => new ProgressPrinter(terminal));

    public sealed record Clear;

    public sealed record Cleared;
}
