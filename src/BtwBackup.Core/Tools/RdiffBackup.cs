using System.Globalization;

namespace BtwBackup.Tools;

/// <summary>rdiff-backup 2.x through its new command line (<c>backup</c>, <c>list increments</c>, ...).</summary>
public sealed class RdiffBackup(IProcessRunner runner)
{
    public const string Program = "rdiff-backup";

    /// <summary>
    /// Stores <paramref name="sourceDir"/> into the repository: a mirror if new, else an increment.
    /// Exit code 2 (rdiff-backup's "warning" bit alone, e.g. after it regressed a failed backup
    /// itself) is a stored backup: its WARNING lines are returned. Any other non-zero exit throws.
    /// </summary>
    public async Task<IReadOnlyList<string>> BackupAsync(string sourceDir, string repository, CancellationToken ct)
    {
        var result = await runner.RunAsync(new ProcessSpec(Program, ["backup", sourceDir, repository]), ct);
        return result.ExitCode switch
        {
            0 => [],
            WarningExit => WarningLines(result),
            _ => throw new ToolFailedException(Program, result.ExitCode, result.Stderr),
        };
    }

    /// <summary>rdiff-backup's exit code when only its warning bit is set.</summary>
    public const int WarningExit = 2;

    /// <summary>
    /// <c>rdiff-backup regress REPO</c>: rolls back an increment that did not complete (two
    /// current_mirror markers) to the previous mirror. Exit 0 (nothing to do) and 2 (regressed,
    /// a warning) are both success.
    /// </summary>
    public async Task RegressAsync(string repository, CancellationToken ct)
    {
        var result = await runner.RunAsync(new ProcessSpec(Program, ["regress", repository]), ct);
        if (result.ExitCode is not (0 or WarningExit))
            throw new ToolFailedException(Program, result.ExitCode, result.Stderr);
    }

    private static IReadOnlyList<string> WarningLines(ProcessResult result)
    {
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith("WARNING", StringComparison.Ordinal))
            .Select(l => Program + ": " + l)
            .ToList();
        return lines.Count > 0 ? lines : [$"{Program} exited with code {WarningExit} (a warning) and stored the backup"];
    }

    /// <summary>
    /// Every backup time in the repository, oldest first: the first is the full backup, the last
    /// the current mirror. Times are UTC, whole seconds.
    /// </summary>
    public async Task<IReadOnlyList<DateTime>> ListBackupTimesAsync(string repository, CancellationToken ct)
    {
        // What rdiff-backup would print, read from its own file names without starting Python
        // (about 0.1 s a repository); rdiff-backup itself answers whatever that reading is not sure of.
        if (Backup.RdiffRepository.ReadBackupTimes(repository) is { } read)
            return read;
        var result = await runner.RunCheckedAsync(
            new ProcessSpec(Program, ["--parsable-output", "list", "increments", repository]), ct);
        return ParseParsableList(result.Stdout);
    }

    /// <summary>The repository as it was at <paramref name="at"/> (one of its backup times) into <paramref name="targetDir"/>, which must not exist.</summary>
    public async Task RestoreAsync(string repository, DateTime at, string targetDir, CancellationToken ct)
    {
        await runner.RunCheckedAsync(new ProcessSpec(Program, ["restore", "--at", Epoch(at), repository, targetDir]), ct);
    }

    /// <summary>Rebuilds every file of the repository as it was at <paramref name="at"/> and checks it against the SHA-1 the repository recorded.</summary>
    public async Task VerifyAsync(string repository, DateTime at, CancellationToken ct)
    {
        await runner.RunCheckedAsync(new ProcessSpec(Program, ["verify", "--at", Epoch(at), repository]), ct, withStdout: true);
    }

    /// <summary>Removes the repository's increments strictly older than <paramref name="time"/> (one of its backup times, which stays).</summary>
    public async Task RemoveIncrementsOlderThanAsync(string repository, DateTime time, CancellationToken ct)
    {
        await runner.RunCheckedAsync(new ProcessSpec(Program, ["--force", "remove", "increments", "--older-than", Epoch(time), repository]), ct, withStdout: true);
    }

    private static string Epoch(DateTime utc) =>
        ((long)(utc - DateTime.UnixEpoch).TotalSeconds).ToString(CultureInfo.InvariantCulture);

    internal static IReadOnlyList<DateTime> ParseParsableList(string output)
    {
        var times = new List<DateTime>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var first = line.Split(' ', 2)[0];
            if (long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var epoch))
                times.Add(DateTime.UnixEpoch.AddSeconds(epoch));
        }

        times.Sort();
        return times;
    }
}
