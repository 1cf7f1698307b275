using System.Text;

namespace BtwBackup.Cli;

/// <summary>An option of a command: a flag, or an option that takes one value.</summary>
public sealed record OptionSpec(string[] Names, string Dest, string Help, bool TakesValue = false, string? Metavar = null, string[]? Choices = null, bool Required = false)
{
    public string Display => string.Join('/', Names);

    public string UsagePart =>
        TakesValue ? $"{Names[0]} {(Choices is null ? Metavar ?? Dest.ToUpperInvariant() : "{" + string.Join(',', Choices) + "}")}" : Names[0];
}

/// <summary>A positional argument; an optional one is filled only when there are values to spare.</summary>
/// <summary>A positional argument; <c>Many</c>: any number of them (argparse's nargs='*'), last.</summary>
public sealed record PositionalSpec(string Name, string Help, bool Optional = false, bool Many = false);

/// <summary>A subcommand: its options, positionals, and at most one group of mutually exclusive options.</summary>
public sealed record CommandSpec(string Name, string Help, OptionSpec[] Options, PositionalSpec[] Positionals)
{
    public string[]? ExclusiveGroup { get; init; }

    public bool ExclusiveRequired { get; init; }
}

/// <summary>The parsed command line.</summary>
public sealed record ParsedArgs(string Command, bool Quiet, string? ConfigDir, IReadOnlyDictionary<string, string?> Values)
{
    public string Get(string dest) => Values[dest] ?? throw new InvalidOperationException(dest + " is not set");

    public string? Find(string dest) => Values.GetValueOrDefault(dest);

    public bool Flag(string dest) => Values.ContainsKey(dest) && Values[dest] is not null;

    /// <summary>The values of a <see cref="PositionalSpec.Many"/> positional (none when absent).</summary>
    public IReadOnlyList<string> All(string dest) => Find(dest) is { } joined ? joined.Split('\0') : [];
}

/// <summary>What parsing decided: run a command, or print something and exit (help, version, usage error).</summary>
public abstract record ParseOutcome
{
    public sealed record Run(ParsedArgs Args) : ParseOutcome;

    public sealed record Exit(int Code, string Stdout, string Stderr) : ParseOutcome;
}

/// <summary>
/// A strict parser with the behaviour and messages of the original's argparse command line:
/// <c>usage: ...</c> then <c>PROG: error: ...</c> on stderr and exit 2 for a usage error;
/// <c>-h</c> and <c>--version</c> print and exit 0. No actor system is involved.
/// </summary>
public sealed class ArgParser(string prog, string version, IReadOnlyList<CommandSpec> commands)
{
    private static readonly OptionSpec Help = new(["-h", "--help"], "help", "show this help message and exit");

    public ParseOutcome Parse(IReadOnlyList<string> args)
    {
        var quiet = false;
        string? configDir = null;
        var i = 0;
        for (; i < args.Count; i++)
        {
            var a = args[i];
            if (a is "-h" or "--help")
                return new ParseOutcome.Exit(0, MainHelp(), "");
            if (a == "--version")
                return new ParseOutcome.Exit(0, $"{prog} {version}\n", "");
            if (a is "-q" or "--quiet")
            {
                quiet = true;
                continue;
            }

            if (a == "--config-dir" || a.StartsWith("--config-dir=", StringComparison.Ordinal))
            {
                if (a.Length > "--config-dir".Length)
                {
                    configDir = a["--config-dir=".Length..];
                }
                else if (i + 1 < args.Count)
                {
                    configDir = args[++i];
                }
                else
                {
                    return MainError("argument --config-dir: expected one argument");
                }

                continue;
            }

            if (a.StartsWith('-') && a != "-")
                return MainError("unrecognized arguments: " + a);
            break;
        }

        if (i >= args.Count)
            return MainError("the following arguments are required: command");

        var command = commands.FirstOrDefault(c => c.Name == args[i]);
        if (command is null)
            return MainError($"argument command: invalid choice: '{args[i]}' (choose from {string.Join(", ", commands.Select(c => "'" + c.Name + "'"))})");

        return ParseCommand(command, args.Skip(i + 1).ToList(), quiet, configDir);
    }

    private ParseOutcome ParseCommand(CommandSpec spec, List<string> args, bool quiet, string? configDir)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        var positionals = new List<string>();
        var unrecognized = new List<string>();
        var optionsDone = false;

        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (optionsDone || !a.StartsWith('-') || a == "-")
            {
                positionals.Add(a);
                continue;
            }

            if (a == "--")
            {
                optionsDone = true;
                continue;
            }

            if (a is "-h" or "--help")
                return new ParseOutcome.Exit(0, CommandHelp(spec), "");

            string name = a;
            string? inline = null;
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Contains('='))
            {
                name = a[..a.IndexOf('=')];
                inline = a[(a.IndexOf('=') + 1)..];
            }
            else if (!a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                name = a[..2];
                inline = a[2..];
            }

            var option = spec.Options.FirstOrDefault(o => o.Names.Contains(name));
            if (option is null)
            {
                unrecognized.Add(a);
                continue;
            }

            if (!option.TakesValue)
            {
                if (inline is not null)
                    return CommandError(spec, $"argument {option.Display}: ignored explicit argument '{inline}'");
                values[option.Dest] = "true";
            }
            else
            {
                var value = inline;
                if (value is null)
                {
                    if (i + 1 >= args.Count || (args[i + 1].StartsWith('-') && args[i + 1] != "-"))
                        return CommandError(spec, $"argument {option.Display}: expected one argument");
                    value = args[++i];
                }

                if (option.Choices is not null && !option.Choices.Contains(value))
                {
                    return CommandError(spec,
                        $"argument {option.Display}: invalid choice: '{value}' (choose from {string.Join(", ", option.Choices.Select(c => "'" + c + "'"))})");
                }

                values[option.Dest] = value;
            }

            if (spec.ExclusiveGroup is { } group && group.Contains(option.Names[0]))
            {
                var other = spec.Options.FirstOrDefault(o => o != option && group.Contains(o.Names[0]) && values.ContainsKey(o.Dest));
                if (other is not null)
                    return CommandError(spec, $"argument {option.Display}: not allowed with argument {other.Display}");
            }
        }

        var required = spec.Positionals.Count(p => !p.Optional);
        var spare = Math.Max(0, positionals.Count - required);
        var next = 0;
        var missing = new List<string>();
        foreach (var p in spec.Positionals)
        {
            if (p.Many)
            {
                values[p.Name] = next < positionals.Count ? string.Join('\0', positionals.Skip(next)) : null;
                next = positionals.Count;
                continue;
            }

            if (p.Optional)
            {
                if (spare > 0 && next < positionals.Count)
                {
                    values[p.Name] = positionals[next++];
                    spare--;
                }
                else
                {
                    values[p.Name] = null;
                }

                continue;
            }

            if (next < positionals.Count)
                values[p.Name] = positionals[next++];
            else
                missing.Add(p.Name);
        }

        unrecognized.AddRange(positionals.Skip(next));
        var missingOptions = spec.Options.Where(o => o.Required && !values.ContainsKey(o.Dest)).Select(o => o.Display);
        var allMissing = missingOptions.Concat(missing).ToList();
        if (allMissing.Count > 0)
            return CommandError(spec, "the following arguments are required: " + string.Join(", ", allMissing));
        if (spec.ExclusiveRequired && spec.ExclusiveGroup is { } g && !spec.Options.Any(o => g.Contains(o.Names[0]) && values.ContainsKey(o.Dest)))
            return CommandError(spec, "one of the arguments " + string.Join(' ', g) + " is required");
        if (unrecognized.Count > 0)
            return MainError("unrecognized arguments: " + string.Join(' ', unrecognized));

        return new ParseOutcome.Run(new ParsedArgs(spec.Name, quiet, configDir, values));
    }

    public string CommandUsage(CommandSpec spec)
    {
        var parts = new List<string> { "usage:", prog, spec.Name, "[-h]" };
        var group = spec.ExclusiveGroup;
        foreach (var o in spec.Options)
        {
            if (group is not null && group.Contains(o.Names[0]))
                continue;
            parts.Add(o.Required ? o.UsagePart : "[" + o.UsagePart + "]");
        }

        if (group is not null)
        {
            var inner = string.Join(" | ", spec.Options.Where(o => group.Contains(o.Names[0])).Select(o => o.UsagePart));
            parts.Add(spec.ExclusiveRequired ? "(" + inner + ")" : "[" + inner + "]");
        }

        parts.AddRange(spec.Positionals.Select(p => p.Many ? "[" + p.Name + " ...]" : p.Optional ? "[" + p.Name + "]" : p.Name));
        return string.Join(' ', parts);
    }

    public string MainUsage() =>
        $"usage: {prog} [-h] [-q] [--config-dir CONFIG_DIR] [--version]\n{new string(' ', prog.Length + 7)} {{{string.Join(',', commands.Select(c => c.Name))}}} ...";

    private ParseOutcome.Exit MainError(string message) =>
        new(2, "", $"{MainUsage()}\n{prog}: error: {message}\n");

    private ParseOutcome.Exit CommandError(CommandSpec spec, string message) =>
        new(2, "", $"{CommandUsage(spec)}\n{prog} {spec.Name}: error: {message}\n");

    private string MainHelp()
    {
        var sb = new StringBuilder();
        sb.Append(MainUsage()).Append("\n\n");
        sb.Append("Backs up file trees and PostgreSQL databases locally with history, and mirrors them off-site.\n\n");
        sb.Append("options:\n");
        Row(sb, "-h, --help", "show this help message and exit");
        Row(sb, "-q, --quiet", "makes the command run quietly");
        Row(sb, "--config-dir CONFIG_DIR", "sets the general configuration directory (default: ~/.btw-backup)");
        Row(sb, "--version", "show program's version number and exit");
        sb.Append("\nsubcommands:\n");
        foreach (var c in commands)
            Row(sb, c.Name, c.Help);
        return sb.ToString();
    }

    private string CommandHelp(CommandSpec spec)
    {
        var sb = new StringBuilder();
        sb.Append(CommandUsage(spec)).Append("\n\n").Append(spec.Help).Append("\n");
        if (spec.Positionals.Length > 0)
        {
            sb.Append("\npositional arguments:\n");
            foreach (var p in spec.Positionals)
                Row(sb, p.Name, p.Help);
        }

        sb.Append("\noptions:\n");
        Row(sb, "-h, --help", Help.Help);
        foreach (var o in spec.Options)
            Row(sb, string.Join(", ", o.Names.Select(n => o.TakesValue ? n + " " + (o.Choices is null ? o.Metavar ?? o.Dest.ToUpperInvariant() : "{" + string.Join(',', o.Choices) + "}") : n)), o.Help);
        return sb.ToString();
    }

    private static void Row(StringBuilder sb, string left, string help)
    {
        sb.Append("  ").Append(left);
        if (left.Length < 22)
            sb.Append(new string(' ', 24 - left.Length)).Append(help).Append('\n');
        else
            sb.Append('\n').Append(new string(' ', 26)).Append(help).Append('\n');
    }
}
