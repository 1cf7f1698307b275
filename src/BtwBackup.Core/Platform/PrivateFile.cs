namespace BtwBackup.Platform;

/// <summary>
/// A file of the configuration directory written whole: into PATH.partial, created anew (mode
/// 0600, O_EXCL: never through a link planted under that name, never into a file left there),
/// flushed, then renamed over PATH. A crash leaves the old file; readers never see half of one.
/// </summary>
public static class PrivateFile
{
    public const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static void Replace(string path, Action<TextWriter> write, bool overwrite = true) =>
        ReplaceBinary(path, stream =>
        {
            using var writer = new StreamWriter(stream, leaveOpen: true);
            write(writer);
        }, overwrite);

    /// <summary><see cref="Replace"/> for a file of bytes.</summary>
    public static void ReplaceBinary(string path, Action<Stream> write, bool overwrite = true)
    {
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException("btw-backup runs on Linux");
        var partial = path + ".partial";
        // Deletes a link itself, never what it points to.
        File.Delete(partial);
        try
        {
            using (var stream = new FileStream(partial, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = Mode, BufferSize = 1 << 16 }))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(partial, path, overwrite);
        }
        catch
        {
            File.Delete(partial);
            throw;
        }
    }

    /// <summary>PATH opened to append to, created private (0600) when absent.</summary>
    public static FileStream Append(string path)
    {
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException("btw-backup runs on Linux");
        return new FileStream(path, new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read, UnixCreateMode = Mode });
    }
}
