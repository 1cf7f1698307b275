using BtwBackup.Tools;
using Xunit;

namespace BtwBackup.Tests.Tools;

public sealed class Bzip2Tests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-bzip2-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Folder(string name, UnixFileMode? lbzip2)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, name)).FullName;
        if (lbzip2 is { } mode && !OperatingSystem.IsWindows())
        {
            File.WriteAllText(Path.Combine(dir, "lbzip2"), "#!/bin/sh\n");
            File.SetUnixFileMode(Path.Combine(dir, "lbzip2"), mode);
        }

        return dir;
    }

    [Fact]
    public void Lbzip2_is_chosen_when_an_executable_one_is_on_PATH()
    {
        if (OperatingSystem.IsWindows())
            return;
        var without = Folder("without", null);
        var with = Folder("with", UnixFileMode.UserRead | UnixFileMode.UserExecute);
        Assert.Equal("lbzip2", Bzip2.Choose($"{without}:{with}"));
        Assert.Equal("bzip2", Bzip2.Choose(without));
        Assert.Equal("bzip2", Bzip2.Choose(null));
        Assert.Equal("bzip2", Bzip2.Choose(""));
    }

    [Fact]
    public void A_file_that_cannot_run_or_a_relative_PATH_entry_is_not_chosen()
    {
        if (OperatingSystem.IsWindows())
            return;
        var notExecutable = Folder("plain", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal("bzip2", Bzip2.Choose(notExecutable));
        // A relative entry that does lead to an lbzip2 from here: still not trusted.
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, Folder("relative", UnixFileMode.UserRead | UnixFileMode.UserExecute));
        Assert.False(Path.IsPathFullyQualified(relative));
        Assert.Equal("bzip2", Bzip2.Choose(relative));
    }
}
