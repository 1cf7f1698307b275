using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>
/// restore into a folder whose parent someone else can write to (a user's home): that user
/// swaps the parent for a symbolic link into root-path once the target has been checked. The
/// series there must stay as it was, whatever the timing.
/// </summary>
public sealed class RestoreTargetRaceTests : IDisposable
{
    private readonly Sandbox _box = new();
    private readonly string _temp;

    public RestoreTargetRaceTests()
    {
        // A scratch folder of the restore's own, so that its appearance says the target was checked.
        _temp = Directory.CreateDirectory(Path.Combine(_box.Dir, "tmp")).FullName;
        _box.Environment = new Dictionary<string, string?> { ["TMPDIR"] = _temp };
    }

    public void Dispose() => _box.Dispose();

    [Fact]
    public async Task A_parent_swapped_for_a_link_into_root_after_the_check_leaves_the_series_as_it_was()
    {
        var src = _box.MakeTree("www");
        // Long enough to decompress that the swap lands between the check and the placing.
        File.WriteAllBytes(Path.Combine(src, "big.bin"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(24 << 20));
        await _box.InitAsync("tar", src, "www");
        await _box.QuietOkAsync("fs", src, "www");
        var before = Sandbox.Snapshot(_box.Root);
        var pub = Directory.CreateDirectory(Path.Combine(_box.Dir, "pub")).FullName;
        var parent = Directory.CreateDirectory(Path.Combine(pub, "d")).FullName;

        var restore = _box.RunAsync("restore", "www", Path.Combine(parent, "www"));
        var swapped = false;
        while (!restore.IsCompleted && !swapped)
        {
            if (Directory.EnumerateDirectories(_temp, "btw-backup-restore-*").Any())
            {
                Directory.Move(parent, parent + ".orig");
                File.CreateSymbolicLink(parent, _box.Root);
                swapped = true;
            }
        }

        var r = await restore;
        Assert.True(swapped, "the restore ended before its scratch folder was seen: " + r);
        Assert.Equal(before, Sandbox.Snapshot(_box.Root));
        // Either it went on in the folder it checked, or it saw the link and refused, or it caught
        // the swap between its two steps (the folder gone, so held its parent and made it anew;
        // the link then stood at the name, and mkdir follows no link): never into root.
        if (r.ExitCode == 0)
            Assert.Equal(Sandbox.Snapshot(src), Sandbox.Snapshot(Path.Combine(parent + ".orig", "www")));
        else
            Assert.True(r.Stderr.Contains("inside the backups", StringComparison.Ordinal)
                || r.Stderr.StartsWith($"btw-backup: cannot create the folder {parent}: ", StringComparison.Ordinal), r.ToString());
        Assert.DoesNotContain(Directory.GetFileSystemEntries(_box.Root), e => Path.GetFileName(e).StartsWith('.'));
    }

    /// <summary>
    /// root-path reached through a bind mount (a container's, an export's), or a link a user made
    /// to one: the paths say nothing, the folders are the same. Refused by device and inode.
    /// </summary>
    [RootFact]
    public async Task Root_path_reached_through_a_bind_mount_is_refused_even_with_force()
    {
        var src = _box.MakeTree("www");
        await _box.InitAsync("tar", src, "www");
        await _box.QuietOkAsync("fs", src, "www");
        var before = Sandbox.Snapshot(_box.Root);
        var alias = Directory.CreateDirectory(Path.Combine(_box.Dir, "alias")).FullName;
        var mounted = await Sandbox.ShellAsync("mount", "--bind", _box.Root, alias);
        Assert.True(mounted.ExitCode == 0, mounted.ToString());
        try
        {
            var link = Path.Combine(_box.Dir, "users-link");
            File.CreateSymbolicLink(link, alias);
            foreach (var target in new[] { Path.Combine(alias, "www"), Path.Combine(link, "www"), Path.Combine(alias, "new", "www") })
            {
                var r = await _box.RunAsync("restore", "--force", "www", target);
                Assert.Equal(1, r.ExitCode);
                Assert.Contains("(it is the same folder, reached another way): restore somewhere else", r.Stderr);
            }
        }
        finally
        {
            await Sandbox.ShellAsync("umount", alias);
        }

        Assert.Equal(before, Sandbox.Snapshot(_box.Root));
    }

    [Fact]
    public async Task A_target_in_or_above_the_configuration_directory_is_refused_even_with_force()
    {
        var src = _box.MakeTree("www");
        var working = await _box.InitAsync("tar", src, "www");
        await _box.QuietOkAsync("fs", src, "www");
        var conf = File.ReadAllText(Path.Combine(_box.ConfigDir, "btw-backup.conf"));

        foreach (var target in new[] { _box.ConfigDir, Path.Combine(_box.ConfigDir, "inside") })
        {
            var r = await _box.RunAsync("restore", "--force", "www", target);
            Assert.Equal(1, r.ExitCode);
            Assert.Equal($"btw-backup: the target {target} is inside the configuration directory ({_box.ConfigDir}) or holds it: restore somewhere else\n", r.Stderr);
        }

        // The folder holding both: the backups are named first.
        var above = await _box.RunAsync("restore", "--force", "www", _box.Dir);
        Assert.Equal($"btw-backup: the target {_box.Dir} is inside the backups (root-path {_box.Root}) or holds them: restore somewhere else\n", above.Stderr);

        // The configuration, the working folder and the series are where they were.
        Assert.Equal(conf, File.ReadAllText(Path.Combine(_box.ConfigDir, "btw-backup.conf")));
        Assert.True(File.Exists(Path.Combine(working, "source.conf")));
        Assert.False(Directory.Exists(Path.Combine(_box.ConfigDir, "inside")));
        Assert.Single((await _box.RunAsync("list", "www")).StdoutLines);
    }
}
