using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace BtwBackup.Platform;

/// <summary>
/// A directory held open, so that what is done in it stays in it whatever becomes of the path it
/// was opened by: a local user who can write to an ancestor may rename it away and put a symbolic
/// link in its place, and every later use of that path would follow the link. Names in it are
/// reached through <see cref="Path"/>, <c>/proc/PID/fd/N</c>, a link the kernel resolves to this
/// very directory (for this process and for the programs it runs). Renames in it never follow a
/// link at either end.
/// </summary>
public sealed class HeldDirectory : IDisposable
{
    private const int ORdonly = 0;
    private const int ODirectory = 0x10000;
    private const int ONofollow = 0x20000;
    private const int OCloexec = 0x80000;
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;
    private const uint ModeTypeMask = 0xF000;
    private const uint ModeDirectory = 0x4000;
    private const uint ModeLink = 0xA000;

    private readonly int _fd;

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int mkdir([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);

    [DllImport("libc", SetLastError = true)]
    private static extern int rename([MarshalAs(UnmanagedType.LPUTF8Str)] string from, [MarshalAs(UnmanagedType.LPUTF8Str)] string to);

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [Out] byte[] buffer);

    private HeldDirectory(int fd) => _fd = fd;

    /// <summary>What is at a name, its link not followed.</summary>
    public readonly record struct Entry(bool IsDirectory, bool IsLink, uint Uid, uint Permissions);

    /// <summary>
    /// Opens the directory at <paramref name="path"/>; its last component must not be a symbolic
    /// link (resolve the path first where links are legitimate, then check <see cref="RealPath"/>).
    /// </summary>
    public static HeldDirectory Open(string path)
    {
        var fd = open(path, ORdonly | ODirectory | ONofollow | OCloexec);
        if (fd < 0)
            throw Error("cannot open the folder " + path);
        return new HeldDirectory(fd);
    }

    /// <summary>The path by which this process and its children reach the directory itself.</summary>
    public string Path => $"/proc/{Environment.ProcessId}/fd/{_fd}";

    /// <summary>Where the directory is now (it may have been moved since it was opened).</summary>
    public string RealPath => new FileInfo($"/proc/self/fd/{_fd}").LinkTarget
        ?? throw new IOException("cannot tell where an open folder is (is /proc mounted?)");

    /// <summary>The directory's device and inode: what it is, whatever path leads to it (a bind mount, another namespace's mount).</summary>
    public (ulong Device, ulong Inode) Identity => IdentityOf($"/proc/self/fd/{_fd}") ?? throw new IOException("cannot look at an open folder (is /proc mounted?)");

    /// <summary>The identities of the directory and of every directory above it, as the kernel walks "..", up to its root.</summary>
    public IReadOnlyList<(ulong Device, ulong Inode)> SelfAndAncestors()
    {
        var chain = new List<(ulong, ulong)>();
        var path = $"/proc/self/fd/{_fd}";
        for (var depth = 0; depth < 4096 && IdentityOf(path) is { } id && !chain.Contains(id); depth++)
        {
            chain.Add(id);
            path += "/..";
        }

        return chain;
    }

    /// <summary>The device and inode of what <paramref name="path"/> leads to (links followed), or null when nothing is there.</summary>
    public static (ulong Device, ulong Inode)? IdentityOf(string path) =>
        FileStamp.Of(path, follow: true) is { } stamp ? (stamp.Device, stamp.Inode) : null;

    /// <summary>A name in the directory, reached through <see cref="Path"/>.</summary>
    public string Under(string name) => Path + "/" + CheckName(name);

    /// <summary>What is at <paramref name="name"/> in the directory, or null when nothing is.</summary>
    public Entry? Look(string name) => Stat(Under(name), follow: false);

    /// <summary>
    /// Creates <paramref name="name"/> as a new folder only this user can enter (never one that
    /// exists, nor through a link), and holds it: what is written through the returned handle
    /// lands in that folder even if the name is moved meanwhile.
    /// </summary>
    public HeldDirectory CreatePrivate(string name)
    {
        var path = Under(name);
        if (mkdir(path, 0x1C0) != 0) // 0700
            throw Error("cannot create the folder " + System.IO.Path.Combine(RealPath, name));
        var created = Open(path);
        // Someone who can write here could have put a folder of theirs at the name in between: not one of this user's, mode 0700.
        if (Stat(created.Path, follow: true) is not { IsDirectory: true } made || made.Uid != (uint)Posix.EffectiveUid || made.Permissions != 0x1C0)
        {
            created.Dispose();
            throw new IOException($"the folder {System.IO.Path.Combine(RealPath, name)} was replaced as it was created: nothing was written into it");
        }

        return created;
    }

    /// <summary>Renames <paramref name="from"/> to <paramref name="to"/> in this directory (rename(2): no link followed; <paramref name="to"/> must not be a folder with content).</summary>
    public void Rename(string from, string to)
    {
        if (rename(Under(from), Under(to)) != 0)
            throw Error($"cannot rename {System.IO.Path.Combine(RealPath, from)} to {to}");
    }

    public void Dispose() => close(_fd);

    private static Entry? Stat(string path, bool follow)
    {
        var buffer = new byte[256];
        if (statx(AtFdCwd, path, follow ? 0 : AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is 2 or 20) // ENOENT, ENOTDIR
                return null;
            throw new IOException($"cannot look at {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        var mode = (uint)BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(28));
        return new Entry((mode & ModeTypeMask) == ModeDirectory, (mode & ModeTypeMask) == ModeLink, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(20)), mode & 0xFFF);
    }

    private static string CheckName(string name) =>
        name.Length == 0 || name is "." or ".." || name.Contains('/') || name.Contains('\0')
            ? throw new ArgumentException($"not a name in a folder: '{name}'", nameof(name))
            : name;

    private static IOException Error(string what)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{what}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }
}
