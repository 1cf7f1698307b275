using BtwBackup.Config;
using Xunit;

namespace BtwBackup.Tests.Config;

public sealed class WorkingFoldersTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-wf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Create_then_find_and_load()
    {
        var path = WorkingFolders.Create(_dir, "/srv/www", "www", SourceType.Rdiff, SeriesPolicy.Default);
        Assert.Equal(Path.Combine(_dir, "www." + SourceHash.Of("/srv/www")), path);
        Assert.Equal("/srv/www", new FileInfo(Path.Combine(path, "src")).LinkTarget);
        Assert.Equal(path, WorkingFolders.FindPath(_dir, "/srv/www"));
        var folder = WorkingFolders.Load(_dir, "/srv/www", SeriesPolicy.Default);
        Assert.Equal(SourceType.Rdiff, folder.Type);
        Assert.Equal(Path.Combine(path, "backup"), folder.BackupDir);
        Assert.Null(WorkingFolders.FindPath(_dir, "/srv/other"));
        Assert.Single(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void Refuses_relative_sources_and_second_inits()
    {
        Assert.Equal("the source path must be absolute",
            Assert.Throws<ConfigException>(() => WorkingFolders.Create(_dir, "srv/www", "www", SourceType.Tar, SeriesPolicy.Default)).Message);
        WorkingFolders.Create(_dir, "/srv/www", "www", SourceType.Tar, SeriesPolicy.Default);
        Assert.Equal("there is already a directory for this path",
            Assert.Throws<ConfigException>(() => WorkingFolders.Create(_dir, "/srv/www", "other", SourceType.Tar, SeriesPolicy.Default)).Message);
        Assert.Single(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void Finds_folders_made_by_the_original_and_checks_their_link()
    {
        var original = Directory.CreateDirectory(Path.Combine(_dir, "src.uqsE0Q")).FullName;
        File.CreateSymbolicLink(Path.Combine(original, "src"), "/home/ldd/src/git-repos/btw-backup/test-data/src");
        File.WriteAllText(Path.Combine(original, "config.py"), "TYPE=\"rdiff\"\nMAX_INCREMENTAL_COUNT=10\nMAX_INCREMENTAL_SPAN=\"24h\"\n");
        var folder = WorkingFolders.Load(_dir, "/home/ldd/src/git-repos/btw-backup/test-data/src", SeriesPolicy.Default);
        Assert.Equal(original, folder.Path);
        Assert.Equal(SourceType.Rdiff, folder.Type);

        var wrong = Directory.CreateDirectory(Path.Combine(_dir, "x." + SourceHash.Of("/srv/a"))).FullName;
        File.CreateSymbolicLink(Path.Combine(wrong, "src"), "/srv/b");
        Assert.Equal("found a working directory with the wrong path: " + wrong,
            Assert.Throws<ConfigException>(() => WorkingFolders.FindPath(_dir, "/srv/a")).Message);

        Directory.CreateDirectory(Path.Combine(_dir, "y." + SourceHash.Of("/srv/a")));
        Assert.StartsWith("duplicate working directories: ",
            Assert.Throws<ConfigException>(() => WorkingFolders.FindPath(_dir, "/srv/a")).Message);
    }

    [Fact]
    public void No_working_folder_gives_the_original_message() =>
        Assert.Equal("no working directory for: /srv/none",
            Assert.Throws<ConfigException>(() => WorkingFolders.Load(_dir, "/srv/none", SeriesPolicy.Default)).Message);
}
