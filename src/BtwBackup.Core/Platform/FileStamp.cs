using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace BtwBackup.Platform;

/// <summary>
/// What says a file is the one it was: device, inode, size, and modification and change times to
/// the nanosecond (statx(2), the link itself, never followed). Any write to a file moves its
/// change time, even one that sets the modification time back (as rdiff-backup does), so a file
/// whose stamp is the recorded one has not been written since, unless it was written within the
/// clock's granularity of the stamp being taken: see <see cref="IsSettledAt"/>.
/// </summary>
public readonly record struct FileStamp(ulong Device, ulong Inode, long Size, long ModifiedNs, long ChangedNs)
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;
    private const uint StatxType = 0x1;
    private static bool _unavailable;

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [Out] byte[] buffer);

    /// <summary>The stamp of <paramref name="path"/> (absolute), or null when it cannot be taken (gone, not Linux); <paramref name="follow"/>: of what a link leads to.</summary>
    public static FileStamp? Of(string path, bool follow = false)
    {
        if (_unavailable || !OperatingSystem.IsLinux())
            return null;
        var buffer = new byte[256];
        try
        {
            if (statx(AtFdCwd, path, follow ? 0 : AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
                return null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _unavailable = true;
            return null;
        }

        var b = buffer.AsSpan();
        static long Time(ReadOnlySpan<byte> b, int offset) => (BinaryPrimitives.ReadInt64LittleEndian(b[offset..]) * 1_000_000_000L) + BinaryPrimitives.ReadUInt32LittleEndian(b[(offset + 8)..]);
        var device = ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(b[136..]) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(b[140..]);
        return new FileStamp(device, BinaryPrimitives.ReadUInt64LittleEndian(b[32..]), BinaryPrimitives.ReadInt64LittleEndian(b[40..]), Time(b, 112), Time(b, 96));
    }

    /// <summary>
    /// Whether <paramref name="path"/> (absolute, the link itself) is a FIFO, a socket or a device:
    /// opening one for reading can wait forever (a FIFO with no writer) or read without end. False
    /// when it cannot be said (gone, not Linux): the caller then meets the file as it is.
    /// </summary>
    public static bool IsSpecial(string path)
    {
        if (_unavailable || !OperatingSystem.IsLinux())
            return false;
        var buffer = new byte[256];
        try
        {
            if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType, buffer) != 0)
                return false;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _unavailable = true;
            return false;
        }

        return (BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(28)) & 0xF000) is 0x1000 or 0x2000 or 0x6000 or 0xC000;
    }

    /// <summary>
    /// Whether a hash taken from <paramref name="readStartNs"/> on can stand for this stamp: neither
    /// time is within <paramref name="marginNs"/> of the read's start (the file system's clock is
    /// coarser than a nanosecond, so a write just before or during the read could leave both times
    /// as they were). Git's index calls the other case "racily clean" and reads such a file again.
    /// </summary>
    public bool IsSettledAt(long readStartNs, long marginNs = 2_000_000_000L) =>
        Math.Max(ModifiedNs, ChangedNs) < readStartNs - marginNs;
}
