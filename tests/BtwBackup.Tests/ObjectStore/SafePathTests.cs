using BtwBackup.ObjectStore;
using Xunit;

namespace BtwBackup.Tests.ObjectStore;

public sealed class SafePathTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-safepath-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("www/2016-01-01T00:00:00/backup.tar")]
    [InlineData("log.txt")]
    [InlineData("db/shop/2016-01-01T00:00:00.tbz")]
    [InlineData("a b/ü/..x/x..")]
    public void A_plain_relative_path_is_accepted(string name) => Assert.Null(SafePath.Problem(name));

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("/etc/passwd", "is an absolute path")]
    [InlineData("www/../../etc/passwd", "has a '..' component (it would go above its folder)")]
    [InlineData("..", "has a '..' component (it would go above its folder)")]
    [InlineData("www/./x", "has a '.' component")]
    [InlineData("www//x", "has an empty component ('//', or a '/' at its end)")]
    [InlineData("www/", "has an empty component ('//', or a '/' at its end)")]
    [InlineData("www/a\0b", "holds a NUL character")]
    [InlineData("www/a\nb", "holds a control character (\\x0a)")]
    [InlineData("www/a\u001bb", "holds a control character (\\x1b)")]
    [InlineData("www\\..\\x", "holds a backslash")]
    public void A_name_that_could_leave_its_folder_is_refused_with_its_reason(string name, string reason) =>
        Assert.Equal(reason, SafePath.Problem(name));

    [Fact]
    public void Under_maps_a_safe_name_and_names_the_refused_one()
    {
        Assert.Equal(Path.Combine(_dir, "www", "x"), SafePath.Under(_dir, "www/x", "the key", "pre/www/x"));
        var e = Assert.Throws<UnsafePathException>(() => SafePath.Under(_dir, "www/../../x\0", "the key", "pre/www/../../x\0"));
        Assert.Equal("the key 'pre/www/../../x\\x00' holds a NUL character", e.Message);
    }

    [Fact]
    public void Under_refuses_a_name_whose_folder_is_a_symbolic_link()
    {
        var outside = Directory.CreateDirectory(Path.Combine(_dir, "outside")).FullName;
        var inside = Directory.CreateDirectory(Path.Combine(_dir, "scratch")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(inside, "www"), outside);
        var e = Assert.Throws<UnsafePathException>(() => SafePath.Under(inside, "www/x", "the key"));
        Assert.StartsWith("the key 'www/x' would be written through the symbolic link " + Path.Combine(inside, "www"), e.Message);
        File.CreateSymbolicLink(Path.Combine(inside, "f"), Path.Combine(outside, "f"));
        Assert.Throws<UnsafePathException>(() => SafePath.Under(inside, "f", "the key"));
    }

    [Theory]
    [InlineData("./", null)]
    [InlineData(".", null)]
    [InlineData("./a.txt", "a.txt")]
    [InlineData("./sub/", "sub")]
    [InlineData("sub/b", "sub/b")]
    public void An_archive_member_in_tars_own_form_is_its_relative_path(string member, string? relative) =>
        Assert.Equal(relative, SafePath.Member(member, "the member"));

    [Theory]
    [InlineData("./../x", "the member './../x' has a '..' component (it would go above its folder)")]
    [InlineData("././x", "the member '././x' has a '.' component")]
    [InlineData(".//x", "the member './/x' is an absolute path")]
    [InlineData("./a//b", "the member './a//b' has an empty component ('//', or a '/' at its end)")]
    [InlineData("/etc/x", "the member '/etc/x' is an absolute path")]
    public void A_bad_archive_member_is_refused(string member, string message) =>
        Assert.Equal(message, Assert.Throws<UnsafePathException>(() => SafePath.Member(member, "the member")).Message);

    [Fact]
    public void Resolve_follows_symbolic_links_also_under_a_path_that_does_not_exist_yet()
    {
        var real = Directory.CreateDirectory(Path.Combine(_dir, "real")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(_dir, "link"), real);
        Assert.Equal(Path.Combine(real, "a", "b"), SafePath.Resolve(Path.Combine(_dir, "link", "a", "b")));
        Assert.Equal(real, SafePath.Resolve(Path.Combine(_dir, "link") + "/"));
        Assert.Equal(Path.Combine(_dir, "none"), SafePath.Resolve(Path.Combine(_dir, "none")));
        // A link to what does not exist yet leads there all the same.
        Directory.CreateSymbolicLink(Path.Combine(_dir, "dangling"), Path.Combine(real, "later"));
        Assert.Equal(Path.Combine(real, "later", "x"), SafePath.Resolve(Path.Combine(_dir, "dangling", "x")));
    }
}
