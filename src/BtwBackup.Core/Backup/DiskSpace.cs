using BtwBackup.Tools;

namespace BtwBackup.Backup;

/// <summary>
/// A full disk (ENOSPC), seen through a tool's stderr or .NET's IOException, turned into the one
/// line a user acts on: <c>no space left on DEVICE (MOUNT POINT)</c>.
/// </summary>
public static class DiskSpace
{
    private const int Enospc = 28;
    private const string NoSpaceText = "No space left on device";

    /// <summary>True when <paramref name="e"/> says a write failed because the file system is full.</summary>
    public static bool IsNoSpace(Exception e) => e switch
    {
        ToolFailedException t => t.Stderr.Contains(NoSpaceText, StringComparison.OrdinalIgnoreCase),
        IOException io => io.HResult == Enospc || io.Message.Contains(NoSpaceText, StringComparison.OrdinalIgnoreCase),
        AggregateException { InnerExceptions.Count: 1 } a => IsNoSpace(a.InnerExceptions[0]),
        _ => false,
    };

    /// <summary>
    /// True when a tool failed where a file of <paramref name="needed"/> bytes had to be written and
    /// the file system holding <paramref name="path"/> has less room than that: rdiff-backup, on a
    /// disk with no room at all, dies before it writes anything, with a traceback that does not say why.
    /// </summary>
    public static bool IsTooFullFor(Exception e, string path, long needed) =>
        IsNoSpace(e) || (e is ToolFailedException && FreeBytes(path) is { } free && free < needed);

    /// <summary>
    /// True when tar failed on a short write ("Wrote only N of M bytes", its words for a full
    /// disk when it writes the archive itself) and the disk holding <paramref name="path"/> has
    /// less than a megabyte left. Asked before the partial archive is removed.
    /// </summary>
    public static bool IsTarShortOfSpace(Exception e, string path) =>
        IsNoSpace(e) || (e is ToolFailedException t && t.Stderr.Contains("Wrote only", StringComparison.Ordinal)
            && FreeBytes(path) is { } free && free < 1024 * 1024);

    /// <summary>The bytes an unprivileged write could still use on the file system holding <paramref name="path"/>; null when unknown.</summary>
    public static long? FreeBytes(string path)
    {
        try
        {
            return new DriveInfo(MountOf(path).MountPoint).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The error for a full file system holding <paramref name="path"/>.</summary>
    public static BackupException NoSpace(string path)
    {
        var (device, mountPoint) = MountOf(path);
        return new BackupException($"no space left on {device} ({mountPoint})");
    }

    /// <summary>The mount (source device, mount point) holding <paramref name="path"/>, from /proc/self/mountinfo.</summary>
    public static (string Device, string MountPoint) MountOf(string path)
    {
        var full = Path.GetFullPath(path);
        var best = ("?", "/");
        var bestLength = -1;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/mountinfo"))
            {
                // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
                var fields = line.Split(' ');
                var dash = Array.IndexOf(fields, "-");
                if (fields.Length < 5 || dash < 0 || dash + 2 >= fields.Length)
                    continue;
                var mountPoint = Unescape(fields[4]);
                var inside = mountPoint == "/" || full == mountPoint || full.StartsWith(mountPoint + "/", StringComparison.Ordinal);
                // The last matching line of equal length wins: a later mount hides an earlier one.
                if (inside && mountPoint.Length >= bestLength)
                {
                    best = (Unescape(fields[dash + 2]), mountPoint);
                    bestLength = mountPoint.Length;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ("?", full);
        }

        return best;
    }

    /// <summary>mountinfo writes space, tab, newline and backslash as octal escapes.</summary>
    private static string Unescape(string field) =>
        field.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
            .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}
