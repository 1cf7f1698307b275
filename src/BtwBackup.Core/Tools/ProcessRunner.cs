using System.ComponentModel;
using System.Text;
using CliWrap;

namespace BtwBackup.Tools;

/// <summary>One run of an external program: what to run, and where its output goes.</summary>
public sealed record ProcessSpec(string Program, IReadOnlyList<string> Arguments)
{
    /// <summary>When set, stdout is streamed into this file instead of being captured.</summary>
    public string? StdoutFile { get; init; }

    /// <summary>When set, stdout is streamed into this delegate (e.g. a comparer or a compressor).</summary>
    public PipeTarget? StdoutTarget { get; init; }

    /// <summary>When set, the program reads its stdin from here.</summary>
    public PipeSource? StdinSource { get; init; }

    public override string ToString() => Program + " " + string.Join(' ', Arguments);
}

/// <summary>A finished run. A non-zero exit is a result, not an exception.</summary>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The last non-empty stderr lines, for an error message.</summary>
    public string StderrTail(int lines = 3) =>
        string.Join(" / ", Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(lines));
}

/// <summary>A program that is not installed.</summary>
public sealed class ToolMissingException(string program)
    : Exception($"{program} is not installed or not on PATH (./run.sh install-deps installs what btw-backup needs)")
{
    public string Program { get; } = program;
}

/// <summary>The one way to run a program whose failure is an error.</summary>
public static class CheckedRuns
{
    /// <summary>
    /// Runs <paramref name="spec"/>; exit 0 returns its result, any other exit throws a
    /// <see cref="ToolFailedException"/> with the program's stderr (and its stdout, with
    /// <paramref name="withStdout"/>, for the programs that report there).
    /// </summary>
    public static async Task<ProcessResult> RunCheckedAsync(this IProcessRunner runner, ProcessSpec spec, CancellationToken ct, bool withStdout = false)
    {
        var result = await runner.RunAsync(spec, ct);
        if (!result.Succeeded)
            throw new ToolFailedException(spec.Program, result.ExitCode, withStdout ? result.Stderr + result.Stdout : result.Stderr);
        return result;
    }
}

/// <summary>Runs external programs. The only place that starts a process.</summary>
public interface IProcessRunner
{
    Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken);
}

/// <summary>The real runner, over CliWrap: arguments escaped, stderr captured, cancellation kills the process.</summary>
public sealed class CliWrapProcessRunner : IProcessRunner
{
    private const int MaxCapturedChars = 64 * 1024;

    public async Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken)
    {
        var stdout = new BoundedText(MaxCapturedChars);
        var stderr = new BoundedText(MaxCapturedChars);
        var stdoutTarget = spec.StdoutTarget
            ?? (spec.StdoutFile is { } file ? PipeTarget.ToFile(file) : PipeTarget.ToDelegate(stdout.Append));

        var command = Cli.Wrap(spec.Program)
            .WithArguments(spec.Arguments)
            .WithValidation(CommandResultValidation.None)
            .WithStandardOutputPipe(stdoutTarget)
            .WithStandardErrorPipe(PipeTarget.ToDelegate(stderr.Append));
        if (spec.StdinSource is not null)
            command = command.WithStandardInputPipe(spec.StdinSource);

        try
        {
            var result = await command.ExecuteAsync(cancellationToken);
            return new ProcessResult(result.ExitCode, stdout.ToString(), stderr.ToString());
        }
        catch (Win32Exception)
        {
            throw new ToolMissingException(spec.Program);
        }
        catch (InvalidOperationException e) when (e.InnerException is Win32Exception)
        {
            throw new ToolMissingException(spec.Program);
        }
    }

    /// <summary>Keeps the first lines of a stream and its tail, never the whole of a huge output.</summary>
    private sealed class BoundedText(int limit)
    {
        private readonly StringBuilder _head = new();
        private readonly Queue<string> _tail = new();
        private bool _truncated;

        public void Append(string line)
        {
            lock (_head)
            {
                if (_head.Length < limit)
                {
                    _head.Append(line).Append('\n');
                    return;
                }

                _truncated = true;
                _tail.Enqueue(line);
                if (_tail.Count > 20)
                    _tail.Dequeue();
            }
        }

        public override string ToString()
        {
            lock (_head)
            {
                return _truncated ? _head + "[...]\n" + string.Join('\n', _tail) + "\n" : _head.ToString();
            }
        }
    }
}
