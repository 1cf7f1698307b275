using BtwBackup.Config;
using Xunit;

namespace BtwBackup.Tests.Config;

public class LegacyPyFileTests
{
    private static PyValue One(string line) => LegacyPyFile.Parse([line], "config.py").Single().Value;

    [Theory]
    [InlineData("ROOT_PATH = \"/var/backups\"", "/var/backups")]
    [InlineData("ROOT_PATH='/var/backups'", "/var/backups")]
    [InlineData("TYPE=\"rdiff\"  # the original's own form", "rdiff")]
    [InlineData("X = u'unicode'", "unicode")]
    [InlineData("X = r'C:\\raw'", "C:\\raw")]
    [InlineData("X = \"a \\\"quoted\\\" word\"", "a \"quoted\" word")]
    [InlineData("X = 'it''s'", null)]
    public void Reads_strings(string line, string? expected)
    {
        if (expected is null)
        {
            Assert.Throws<ConfigException>(() => One(line));
            return;
        }

        Assert.Equal(new PyValue.Str(expected), One(line));
    }

    [Fact]
    public void Reads_integers_booleans_and_none()
    {
        Assert.Equal(new PyValue.Int(10), One("MAX_INCREMENTAL_COUNT=10"));
        Assert.Equal(new PyValue.Int(-3), One("N = -3"));
        Assert.Equal(new PyValue.Int(1000000), One("N = 1_000_000"));
        Assert.Equal(new PyValue.Bool(true), One("B = True"));
        Assert.Equal(new PyValue.Bool(false), One("B = False"));
        Assert.Equal(new PyValue.None(), One("B = None"));
    }

    [Theory]
    [InlineData("_X1=1", "_X1")]
    [InlineData("max_age \t=\t 1", "max_age")]
    public void Reads_a_python_identifier_before_the_equals_sign(string line, string name) =>
        Assert.Equal(new PyValue.Int(1), LegacyPyFile.Parse([line], "config.py")[name]);

    [Fact]
    public void Skips_comments_and_blank_lines_and_keeps_the_last_assignment()
    {
        var values = LegacyPyFile.Parse(["# comment", "", "   ", "A = 1", "A = 2"], "config.py");
        Assert.Equal(new PyValue.Int(2), Assert.Single(values).Value);
    }

    [Theory]
    [InlineData("import os", 1)]
    [InlineData("ROOT_PATH = os.environ['HOME']", 1)]
    [InlineData("ROOT_PATH = \"/a\" + \"/b\"", 1)]
    [InlineData("X = 'unterminated", 1)]
    [InlineData("X = 1.5", 1)]
    [InlineData("def f(): pass", 1)]
    [InlineData("X = [1, 2]", 1)]
    [InlineData("X = True or False", 1)]
    [InlineData("1X = 1", 1)]
    [InlineData("X-Y = 1", 1)]
    [InlineData("X == 1", 1)]
    [InlineData("= 1", 1)]
    public void Refuses_code_naming_the_file_and_line(string line, int _)
    {
        var e = Assert.Throws<ConfigException>(() => LegacyPyFile.Parse(["# fine", "A = 1", line], "/etc/x/config.py"));
        Assert.StartsWith("/etc/x/config.py:3: ", e.Message);
        Assert.Contains("btw-backup.conf", e.Message);
    }
}
