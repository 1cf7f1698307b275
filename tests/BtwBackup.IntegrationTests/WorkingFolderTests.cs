using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>fs-init, and working folders made by the original.</summary>
public sealed class WorkingFolderTests : IDisposable
{
    private readonly Sandbox _box = new();

    public void Dispose() => _box.Dispose();

    [Fact]
    public async Task Fs_init_prints_the_folder_it_made_with_the_original_hash()
    {
        const string src = "/home/ldd/src/git-repos/btw-backup/test-data/src";
        var r = await _box.RunAsync("fs-init", "--type", "rdiff", src, "src");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal($"btw-backup: created {_box.ConfigDir}/src.uqsE0Q\n", r.Stdout);
        Assert.Equal("", r.Stderr);
        var wd = Path.Combine(_box.ConfigDir, "src.uqsE0Q");
        Assert.Equal(src, new FileInfo(Path.Combine(wd, "src")).LinkTarget);
        Assert.Contains("type = rdiff", File.ReadAllText(Path.Combine(wd, "source.conf")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(wd));
    }

    [Fact]
    public async Task A_working_folder_of_the_original_is_used_as_it_is()
    {
        var src = _box.MakeTree("www");
        // The original's layout: NAME.HASH with src, config.py and backup/.
        var hash = (await _box.InitAsync("tar", src, "probe"))[(_box.ConfigDir.Length + "/probe.".Length)..];
        Directory.Delete(Path.Combine(_box.ConfigDir, "probe." + hash), recursive: true);
        var wd = Directory.CreateDirectory(Path.Combine(_box.ConfigDir, "www." + hash)).FullName;
        File.CreateSymbolicLink(Path.Combine(wd, "src"), src);
        File.WriteAllText(Path.Combine(wd, "config.py"), "TYPE=\"rdiff\"\nMAX_INCREMENTAL_COUNT=10\nMAX_INCREMENTAL_SPAN=\"0s\"\n");
        Directory.CreateDirectory(Path.Combine(wd, "backup"));

        await _box.QuietOkAsync("fs", src, "www");
        File.AppendAllText(Path.Combine(src, "a.txt"), "x");
        await _box.QuietOkAsync("fs", src, "www");
        Assert.Equal("ff", await _box.ShapeAsync("www"));
        Assert.Equal(["backup", "config.py", "src"], Directory.GetFileSystemEntries(wd).Select(Path.GetFileName).Order());
    }
    [Fact]
    public async Task Fs_and_run_apply_the_same_policy_to_a_tree_that_a_configured_source_declares()
    {
        var src = _box.MakeTree("www");
        // The working folder says 10 increments; the source of btw-backup.conf says none: the source wins, for fs as for run.
        await _box.InitAsync("rdiff", src, "www");
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            sources { www { type = rdiff, path = "{{src}}", dst = "www", max-incremental-count = 0 } }
            """);

        await _box.QuietOkAsync("fs", src, "www");
        foreach (var expected in new[] { "ff", "fff" })
        {
            await Sandbox.NextSecondAsync();
            File.AppendAllText(Path.Combine(src, "a.txt"), "x");
            if (expected == "ff")
                await _box.QuietOkAsync("fs", src, "www");
            else
                Assert.Equal(0, (await _box.RunAsync("run")).ExitCode);
            Assert.Equal(expected, await _box.ShapeAsync("www"));
        }

        // A tree that no source declares keeps its working folder's settings: an increment.
        var other = _box.MakeTree("other");
        await _box.InitAsync("rdiff", other, "other");
        await _box.QuietOkAsync("fs", other, "other");
        await Sandbox.NextSecondAsync();
        File.AppendAllText(Path.Combine(other, "a.txt"), "x");
        await _box.QuietOkAsync("fs", other, "other");
        Assert.Equal("fi", await _box.ShapeAsync("other"));
    }
}
