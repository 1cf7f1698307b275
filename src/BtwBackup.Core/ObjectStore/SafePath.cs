using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace BtwBackup.ObjectStore;

/// <summary>A name from outside (an S3 key, an archive member) that cannot be mapped to a local path; one line, naming it.</summary>
public sealed class UnsafePathException(string message) : IOException(message);

/// <summary>
/// The one mapping from a name that comes from outside (a key of an S3 listing, a member of an
/// archive) to a local path. Such a name is hostile until checked: it must be relative, made of
/// non-empty components other than <c>.</c> and <c>..</c>, without NUL, control characters or
/// backslashes. Anything else is refused with a line that names it; nothing is "cleaned up",
/// since a name that needs cleaning was not written by btw-backup.
/// </summary>
public static class SafePath
{
    /// <summary>Why <paramref name="name"/> (a relative path with <c>/</c> separators) cannot be a local path, or null when it can.</summary>
    public static string? Problem(string name)
    {
        if (name.Length == 0)
            return "is empty";
        if (name[0] == '/')
            return "is an absolute path";
        foreach (var c in name)
        {
            if (c == '\0')
                return "holds a NUL character";
            if (char.IsControl(c))
                return $"holds a control character ({Show(c.ToString())})";
            if (c == '\\')
                return "holds a backslash";
        }

        foreach (var part in name.Split('/'))
        {
            switch (part)
            {
                case "":
                    return "has an empty component ('//', or a '/' at its end)";
                case "..":
                    return "has a '..' component (it would go above its folder)";
                case ".":
                    return "has a '.' component";
            }
        }

        return null;
    }

    /// <summary>
    /// The local path of <paramref name="relative"/> under <paramref name="baseDir"/>, after
    /// <see cref="Problem"/> found nothing and no folder on the way is a symbolic link (so a write
    /// there cannot land elsewhere). The refusal reads "WHAT 'SHOWN' PROBLEM": <paramref name="what"/>
    /// says what the name is ("the key"), <paramref name="shown"/> the name as it came (the whole
    /// key; default: <paramref name="relative"/>).
    /// </summary>
    public static string Under(string baseDir, string relative, string what, string? shown = null)
    {
        if (Problem(relative) is { } problem)
            throw new UnsafePathException($"{what} '{Show(shown ?? relative)}' {problem}");
        var full = Path.Combine(baseDir, relative);
        var current = Path.TrimEndingDirectorySeparator(baseDir);
        foreach (var part in relative.Split('/'))
        {
            current = Path.Combine(current, part);
            if (new FileInfo(current).LinkTarget is { } target)
                throw new UnsafePathException($"{what} '{Show(shown ?? relative)}' would be written through the symbolic link {current} (to {target})");
        }

        return full;
    }

    /// <summary>
    /// An archive member's name as tar writes it for <c>tar -C DIR .</c>: a leading <c>./</c> and a
    /// directory's final <c>/</c> are tar's own form, not components. Null for the archive's top
    /// (<c>./</c>, the target itself), else the relative path it stands for; a bad name throws.
    /// </summary>
    public static string? Member(string name, string what)
    {
        var rest = name;
        if (rest is "." or "./")
            return null;
        if (rest.StartsWith("./", StringComparison.Ordinal))
            rest = rest[2..];
        if (rest.Length > 1 && rest.EndsWith('/'))
            rest = rest[..^1];
        return Problem(rest) is { } problem ? throw new UnsafePathException($"{what} '{Show(name)}' {problem}") : rest;
    }

    /// <summary>A name as a line may show it: control characters as <c>\xNN</c>, so that a hostile name cannot rewrite the terminal.</summary>
    public static string Show(string name)
    {
        var text = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            if (char.IsControl(c))
                text.Append(@"\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else
                text.Append(c);
        }

        return text.ToString();
    }

    /// <summary>
    /// <paramref name="path"/> with every symbolic link resolved, as the kernel would follow it
    /// for a write: the longest existing part through realpath(3), the rest appended as it is.
    /// </summary>
    public static string Resolve(string path) => Resolve(path, hops: 0);

    private static string Resolve(string path, int hops)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var rest = new Stack<string>();
        var existing = full;
        while (!Path.Exists(existing) && new FileInfo(existing).LinkTarget is null)
        {
            var parent = Path.GetDirectoryName(existing);
            if (parent is null)
                return full;
            rest.Push(Path.GetFileName(existing));
            existing = parent;
        }

        var resolved = RealPath(existing);
        if (resolved is null)
        {
            // A link that leads nowhere yet: a write through it creates what it names, so that is where it goes.
            if (new FileInfo(existing).LinkTarget is not { } target || hops >= 40)
                return full;
            var parent = Path.GetDirectoryName(existing) ?? "/";
            return Resolve(Path.Combine([Path.GetFullPath(target, parent), .. rest]), hops + 1);
        }

        while (rest.Count > 0)
            resolved = Path.Combine(resolved, rest.Pop());
        return resolved;
    }

    private static string? RealPath(string path)
    {
        var result = realpath(path, IntPtr.Zero);
        if (result == IntPtr.Zero)
            return null;
        try
        {
            return Marshal.PtrToStringUTF8(result);
        }
        finally
        {
            free(result);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc")]
    private static extern void free(IntPtr pointer);
}
