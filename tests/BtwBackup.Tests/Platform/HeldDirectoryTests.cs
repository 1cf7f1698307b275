using BtwBackup.Platform;
using Xunit;

namespace BtwBackup.Tests.Platform;

/// <summary>What is done through a held folder stays in it when its path is given to someone else.</summary>
public sealed class HeldDirectoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-held-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_folder_renamed_away_and_replaced_by_a_link_still_receives_what_is_written_through_it()
    {
        if (!OperatingSystem.IsLinux())
            return;
        var parent = Directory.CreateDirectory(Path.Combine(_dir, "d")).FullName;
        var elsewhere = Directory.CreateDirectory(Path.Combine(_dir, "elsewhere")).FullName;
        using var held = HeldDirectory.Open(parent);

        Directory.Move(parent, parent + ".orig");
        File.CreateSymbolicLink(parent, elsewhere);

        Assert.Equal(parent + ".orig", held.RealPath);
        using (var made = held.CreatePrivate("new"))
            File.WriteAllText(Path.Combine(made.Path, "f"), "x");
        held.Rename("new", "renamed");

        Assert.Equal("x", File.ReadAllText(Path.Combine(parent + ".orig", "renamed", "f")));
        Assert.Empty(Directory.GetFileSystemEntries(elsewhere));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(parent + ".orig", "renamed")));
    }

    [Fact]
    public void A_name_taken_by_a_link_or_a_folder_is_never_created_through_and_a_link_is_never_opened()
    {
        if (!OperatingSystem.IsLinux())
            return;
        var parent = Directory.CreateDirectory(Path.Combine(_dir, "d")).FullName;
        var victim = Directory.CreateDirectory(Path.Combine(_dir, "victim")).FullName;
        File.CreateSymbolicLink(Path.Combine(parent, "planted"), victim);
        Directory.CreateDirectory(Path.Combine(parent, "existing"));
        using var held = HeldDirectory.Open(parent);

        Assert.Throws<IOException>(() => held.CreatePrivate("planted"));
        Assert.Throws<IOException>(() => held.CreatePrivate("existing"));
        Assert.Throws<IOException>(() => HeldDirectory.Open(Path.Combine(parent, "planted")));
        Assert.Throws<ArgumentException>(() => held.Under("../x"));
        Assert.Empty(Directory.GetFileSystemEntries(victim));

        Assert.Equal(new HeldDirectory.Entry(IsDirectory: false, IsLink: true, (uint)Posix.EffectiveUid, 0x1FF), held.Look("planted"));
        Assert.Null(held.Look("absent"));
        // A rename moves the link itself, never what it leads to.
        held.Rename("planted", "moved");
        Assert.Equal(victim, new FileInfo(Path.Combine(parent, "moved")).LinkTarget);
        Assert.True(Directory.Exists(victim));
    }
}
