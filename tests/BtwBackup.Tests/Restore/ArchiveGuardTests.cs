using System.Formats.Tar;
using BtwBackup.Restore;
using Xunit;

namespace BtwBackup.Tests.Restore;

public sealed class ArchiveGuardTests
{
    private static async Task<string?> ScanAsync(params TarEntry[] entries)
    {
        using var archive = new MemoryStream();
        await using (var writer = new TarWriter(archive, TarEntryFormat.Gnu, leaveOpen: true))
        {
            foreach (var e in entries)
                await writer.WriteEntryAsync(e);
        }

        archive.Position = 0;
        return await ArchiveGuard.ScanAsync(archive, CancellationToken.None);
    }

    private static GnuTarEntry File(string name) => new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream("data"u8.ToArray()) };

    private static GnuTarEntry Dir(string name) => new(TarEntryType.Directory, name);

    private static GnuTarEntry Link(TarEntryType type, string name, string target) => new(type, name) { LinkName = target };

    [Fact]
    public async Task A_tree_as_tar_makes_it_passes_symbolic_links_to_anywhere_included() =>
        Assert.Null(await ScanAsync(Dir("./"), File("./a.txt"), Dir("./sub/"), File("./sub/b"), Link(TarEntryType.SymbolicLink, "./link", "/etc/passwd"),
            Link(TarEntryType.HardLink, "./sub/c", "./a.txt"), File("./" + new string('n', 200))));

    [Fact]
    public async Task A_member_above_the_target_or_absolute_is_refused()
    {
        Assert.Equal("the member '../x' has a '..' component (it would go above its folder)", await ScanAsync(File("./a"), File("../x")));
        Assert.Equal("the member './sub/../../x' has a '..' component (it would go above its folder)", await ScanAsync(File("./sub/../../x")));
        Assert.Equal("the member '/etc/cron.d/x' is an absolute path", await ScanAsync(File("/etc/cron.d/x")));
        Assert.Equal("the hard link target '../../etc/shadow' has a '..' component (it would go above its folder)", await ScanAsync(Link(TarEntryType.HardLink, "./h", "../../etc/shadow")));
    }

    [Fact]
    public async Task A_member_with_a_name_no_tar_of_btw_backup_writes_is_refused()
    {
        Assert.Equal("the member './a\\b' holds a backslash", await ScanAsync(File("./a\\b")));
        Assert.Equal("the member './a/./b' has a '.' component", await ScanAsync(File("./a/./b")));
        Assert.Equal("the member './a\\x1b[2J' holds a control character (\\x1b)", await ScanAsync(File("./a\u001b[2J")));
    }

    [Fact]
    public async Task A_member_written_through_a_symbolic_link_of_the_same_archive_is_refused() =>
        Assert.Equal("the member './etc/passwd' would be written through the symbolic link 'etc'",
            await ScanAsync(Link(TarEntryType.SymbolicLink, "./etc", "/etc"), File("./etc/passwd")));
}
