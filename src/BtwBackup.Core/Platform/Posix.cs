using System.Globalization;
using System.Runtime.InteropServices;

namespace BtwBackup.Platform;

/// <summary>An owner to give created files: <c>-u UID[:GID]</c> resolved to numbers.</summary>
public sealed record Ownership(int Uid, int Gid)
{
    /// <summary>-1 leaves that id unchanged, as chown(2) does.</summary>
    public const int Unchanged = -1;
}

/// <summary>The few POSIX calls .NET does not expose: umask, lchown, user and group look-ups.</summary>
public static partial class Posix
{
    [DllImport("libc", SetLastError = true)]
    private static extern uint umask(uint mask);

    [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)]
    private static extern int lchown([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int owner, int group);

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr getpwnam([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr getgrnam([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr getpwuid(uint uid);

    [DllImport("libc")]
    private static extern int isatty(int fd);

    [DllImport("libc")]
    private static extern uint geteuid();

    [DllImport("libc")]
    private static extern int sigaction(int signum, IntPtr act, [Out] byte[] oldact);

    private const int SIGHUP = 1;

    /// <summary>
    /// Whether SIGHUP was ignored when this process started (<c>nohup</c>). .NET leaves an ignored
    /// signal ignored, and so does this: its children (pg_dump, tar, rdiff-backup) inherit it, so
    /// a terminal's hang-up cannot kill a backup half-way; the price is that SIGHUP cannot reload.
    /// </summary>
    public static bool HangUpIgnored()
    {
        // struct sigaction begins with the handler on Linux; 256 bytes cover every architecture's struct.
        var current = new byte[256];
        return sigaction(SIGHUP, IntPtr.Zero, current) == 0 && BitConverter.ToInt64(current, 0) == 1; // SIG_IGN
    }

    /// <summary>Files the tool creates are private, as with the original.</summary>
    public static void SetPrivateUmask() => umask(0x3F); // 077

    public static bool IsTerminal(int fd) => isatty(fd) == 1;

    public static int EffectiveUid => (int)geteuid();

    public static void Chown(string path, Ownership owner)
    {
        if (lchown(path, owner.Uid, owner.Gid) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot change the owner of {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    /// <summary>Gives a path and, for a folder, everything under it to the owner.</summary>
    public static void ChownTree(string path, Ownership owner)
    {
        Chown(path, owner);
        if (!Directory.Exists(path) || new FileInfo(path).LinkTarget is not null)
            return;
        foreach (var entry in Directory.EnumerateFileSystemEntries(path, "*", new EnumerationOptions
                 {
                     RecurseSubdirectories = true,
                     AttributesToSkip = 0,
                     IgnoreInaccessible = false,
                 }))
        {
            Chown(entry, owner);
        }
    }

    /// <summary>
    /// Resolves <c>UID[:GID]</c> as chown does: names or numbers; a user alone leaves the group
    /// as it is. Returns null and a reason when a name is unknown.
    /// </summary>
    public static Ownership? ParseOwnership(string spec, out string? error)
    {
        error = null;
        var parts = spec.Split(':', 2);
        var user = parts[0];
        var group = parts.Length > 1 ? parts[1] : null;
        if (user.Length == 0 && string.IsNullOrEmpty(group))
        {
            error = "expected UID[:GID]";
            return null;
        }

        var uid = Ownership.Unchanged;
        if (user.Length > 0)
        {
            var resolved = ResolveId(user, getpwnam);
            if (resolved is null)
            {
                error = "unknown user: " + user;
                return null;
            }

            uid = resolved.Value;
        }

        var gid = Ownership.Unchanged;
        if (!string.IsNullOrEmpty(group))
        {
            var resolved = ResolveId(group, getgrnam);
            if (resolved is null)
            {
                error = "unknown group: " + group;
                return null;
            }

            gid = resolved.Value;
        }

        return new Ownership(uid, gid);
    }

    public static string? UserName(int uid)
    {
        var p = getpwuid((uint)uid);
        return p == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(p));
    }

    private static int? ResolveId(string nameOrNumber, Func<string, IntPtr> lookup)
    {
        if (int.TryParse(nameOrNumber, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            return n;
        var entry = lookup(nameOrNumber);
        if (entry == IntPtr.Zero)
            return null;
        // struct passwd { char *pw_name; char *pw_passwd; uid_t pw_uid; gid_t pw_gid; ... }
        // struct group  { char *gr_name; char *gr_passwd; gid_t gr_gid; ... }
        // Both ids sit right after two pointers.
        return Marshal.ReadInt32(entry, 2 * IntPtr.Size);
    }
}
