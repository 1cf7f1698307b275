using System.Globalization;
using System.Text.RegularExpressions;
using BtwBackup.Tools;

namespace BtwBackup.Backup;

/// <summary>
/// The state of one rdiff-backup repository (a full-backup folder of an rdiff series) as its files
/// show it, and the repair of an increment that did not complete (disk full, kill -9): its
/// temporary files removed and the repository regressed to its previous mirror.
/// </summary>
public static partial class RdiffRepository
{
    /// <summary>rdiff-backup writes each new version of a file beside the mirror under this prefix, then renames it.</summary>
    public const string TempPrefix = "rdiff-backup.tmp.";

    /// <summary>How <c>list</c> and <c>verify</c> name a repository whose last increment did not complete.</summary>
    public const string InterruptedNote = "interrupted increment: the next backup regresses it";

    public const string DataDir = "rdiff-backup-data";

    [GeneratedRegex(@"\.(\d{4}-\d\d-\d\dT\d\d[:;]\d\d[:;]\d\d(?:Z|[+-]\d\d[:;]\d\d))\.")]
    private static partial Regex Stamp();

    public static bool IsTempFile(string path) => Path.GetFileName(path).StartsWith(TempPrefix, StringComparison.Ordinal);

    /// <summary>True when an increment started and did not complete: two current_mirror markers, or temporary files left.</summary>
    public static bool IsInterrupted(string repository) => MirrorMarkers(repository).Count > 1 || TempFiles(repository).Count > 0;

    /// <summary>The times of the current_mirror markers, oldest first: one in a sound repository.</summary>
    public static IReadOnlyList<DateTime> MirrorMarkers(string repository)
    {
        var data = Path.Combine(repository, DataDir);
        if (!Directory.Exists(data))
            return [];
        var times = Directory.EnumerateFiles(data, "current_mirror.*")
            .Select(f => StampOf(Path.GetFileName(f)))
            .OfType<DateTime>()
            .ToList();
        times.Sort();
        return times;
    }

    /// <summary>
    /// The repository's backup times, oldest first, read from rdiff-backup-data as
    /// <c>rdiff-backup list increments</c> finds them: the times of the root folder's increments
    /// (<c>increments.TIME.dir</c>, ...) and of the current mirror. Null when this reading is not
    /// sure: no marker or more than one (not a repository, or an interrupted increment), or names
    /// quoted for another file system (a non-empty chars_to_quote).
    /// </summary>
    public static IReadOnlyList<DateTime>? ReadBackupTimes(string repository)
    {
        var data = Path.Combine(repository, DataDir);
        try
        {
            var quoting = Path.Combine(data, "chars_to_quote");
            if (MirrorMarkers(repository) is not [var mirror] || (File.Exists(quoting) && new FileInfo(quoting).Length > 0))
                return null;
            var times = new SortedSet<DateTime> { mirror };
            // Not a pattern: "increments.*" also matches the folder "increments" (Win32 matching).
            foreach (var name in Directory.EnumerateFileSystemEntries(data).Select(Path.GetFileName))
            {
                if (!name!.StartsWith("increments.", StringComparison.Ordinal))
                    continue;
                if (StampOf(name) is not { } time)
                    return null;
                times.Add(time);
            }

            return [.. times];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>rdiff-backup's temporary files anywhere in the repository.</summary>
    public static IReadOnlyList<string> TempFiles(string repository) =>
        Directory.Exists(repository)
            ? [.. Directory.EnumerateFiles(repository, TempPrefix + "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })]
            : [];

    /// <summary>
    /// Brings an interrupted repository back to its last complete backup: removes the temporary
    /// files, then <c>rdiff-backup regress</c>. rdiff-backup cannot regress the first increment of
    /// a repository when it died before storing any file's increment (it takes an empty
    /// <c>increments</c> folder for a new repository and says there is nothing to do); then the
    /// mirror is untouched, and the files that increment added are removed here. Returns what was
    /// done, for the log; empty when the repository was sound.
    /// </summary>
    public static async Task<IReadOnlyList<string>> RepairAsync(RdiffBackup rdiff, string repository, CancellationToken ct)
    {
        var done = new List<string>();
        if (RunningWriter(repository) is { } pid)
            throw new BackupException($"{repository}: rdiff-backup (pid {pid}) is still writing an increment into it; try again when it has finished");
        var temps = TempFiles(repository);
        foreach (var temp in temps)
            File.Delete(temp);
        if (temps.Count > 0)
            done.Add($"removed {temps.Count} temporary file(s) of rdiff-backup from {repository}");

        if (MirrorMarkers(repository).Count < 2)
            return done;

        await rdiff.RegressAsync(repository, ct);
        var markers = MirrorMarkers(repository);
        if (markers.Count == 2 && !HasFileIncrements(repository))
            RollBackFirstIncrement(repository, markers[0]);

        markers = MirrorMarkers(repository);
        if (markers.Count != 1)
            throw new BackupException($"{repository}: rdiff-backup regress did not roll back the interrupted increment ({markers.Count} current_mirror markers); see {Path.Combine(repository, DataDir)}");
        foreach (var temp in TempFiles(repository))
            File.Delete(temp);
        done.Add($"regressed the interrupted increment in {repository} to its backup of {markers[0]:yyyy-MM-dd'T'HH:mm:ss}");
        return done;
    }

    /// <summary>
    /// The pid of a live rdiff-backup named in the newest current_mirror marker ("PID N"), as
    /// rdiff-backup's own regress checks before it touches anything; null when none is running.
    /// </summary>
    private static int? RunningWriter(string repository)
    {
        var data = Path.Combine(repository, DataDir);
        if (MirrorMarkers(repository).Count < 2)
            return null;
        try
        {
            var newest = Directory.GetFiles(data, "current_mirror.*").Where(f => StampOf(Path.GetFileName(f)) is not null)
                .OrderBy(f => StampOf(Path.GetFileName(f))).Last();
            if (PidIn(File.ReadAllText(newest)) is not { } pid)
                return null;
            var cmdline = Path.Combine("/proc", pid.ToString(CultureInfo.InvariantCulture), "cmdline");
            return File.Exists(cmdline) && File.ReadAllText(cmdline).Contains("rdiff-backup", StringComparison.Ordinal) ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The number after the first "PID" (any case) that starts a line of a current_mirror
    /// marker, white space allowed between them; null when there is none or it is not an int.
    /// </summary>
    internal static int? PidIn(string marker)
    {
        for (var line = 0; line < marker.Length; line = marker.IndexOf('\n', line) is var next and >= 0 ? next + 1 : marker.Length)
        {
            if (!marker.AsSpan(line).StartsWith("PID", StringComparison.OrdinalIgnoreCase))
                continue;
            var i = line + 3;
            while (i < marker.Length && char.IsWhiteSpace(marker[i]))
                i++;
            var digits = i;
            while (i < marker.Length && char.IsAsciiDigit(marker[i]))
                i++;
            if (i > digits)
                return int.TryParse(marker.AsSpan(digits, i - digits), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }

        return null;
    }

    private static bool HasFileIncrements(string repository)
    {
        var increments = Path.Combine(repository, DataDir, "increments");
        return Directory.Exists(increments) && Directory.EnumerateFileSystemEntries(increments).Any();
    }

    /// <summary>
    /// The increment died before any file's reverse diff was written, so no mirror file was
    /// replaced (rdiff-backup writes a file's increment before it renames the new version in place).
    /// What it added is named by its own time (markers, statistics, metadata) or, for the root
    /// folder's increment, by the previous mirror's time: no complete backup writes either.
    /// </summary>
    private static void RollBackFirstIncrement(string repository, DateTime previous)
    {
        var data = Path.Combine(repository, DataDir);
        foreach (var path in Directory.EnumerateFileSystemEntries(data))
        {
            var name = Path.GetFileName(path);
            if (StampOf(name) is not { } time)
                continue;
            var added = time > previous || (time == previous && name.StartsWith("increments.", StringComparison.Ordinal));
            if (!added)
                continue;
            if (Directory.Exists(path))
                Directory.Delete(path, recursive: true);
            else
                File.Delete(path);
        }
    }

    private static DateTime? StampOf(string name)
    {
        var m = Stamp().Match(name);
        if (!m.Success)
            return null;
        var text = m.Groups[1].Value.Replace(';', ':');
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) ? t.UtcDateTime : null;
    }
}
