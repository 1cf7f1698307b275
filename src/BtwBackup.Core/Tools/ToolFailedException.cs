namespace BtwBackup.Tools;

/// <summary>
/// An external program that exited with an error. The CLI prints the program's own last stderr
/// lines, then <c>btw-backup: PROGRAM exited with code: N</c>, as the original did for pg_dump.
/// </summary>
public sealed class ToolFailedException(string program, int exitCode, string stderr)
    : Exception($"{program} exited with code: {exitCode}")
{
    public string Program { get; } = program;
    public int ExitCode { get; } = exitCode;
    public string Stderr { get; } = stderr;

    public IReadOnlyList<string> StderrLines(int max = 5) =>
        Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .TakeLast(max)
            .ToList();
}
