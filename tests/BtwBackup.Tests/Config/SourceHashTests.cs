using BtwBackup.Config;
using System.Text;
using Xunit;

namespace BtwBackup.Tests.Config;

public class SourceHashTests
{
    [Fact]
    public void Matches_the_original_for_its_own_test_data_path() =>
        Assert.Equal("uqsE0Q", SourceHash.Of("/home/ldd/src/git-repos/btw-backup/test-data/src"));

    [Theory]
    [InlineData("", 0x00000000u)]
    [InlineData("hello", 0x248bfa47u)]
    [InlineData("The quick brown fox jumps over the lazy dog", 0x2e4ff723u)]
    [InlineData("a", 0x3c2569b2u)]
    public void Murmur3_matches_the_reference_vectors(string input, uint expected) =>
        Assert.Equal(expected, Murmur3.Hash32(Encoding.UTF8.GetBytes(input), 0));

    [Theory]
    // 0x248bfa47 -> bytes 24 8b fa 47
    [InlineData("hello", "JIv6Rw")]
    // Zero still gives one byte, as the original's even-length hex did.
    [InlineData("", "AA")]
    public void Encodes_big_endian_bytes_as_url_safe_base64_without_padding(string input, string expected) =>
        Assert.Equal(expected, SourceHash.Of(input));

    [Fact]
    public void Is_url_safe_and_unpadded_for_many_paths()
    {
        for (var i = 0; i < 2000; i++)
        {
            var h = SourceHash.Of("/srv/tree/" + i);
            Assert.DoesNotContain('=', h);
            Assert.DoesNotContain('+', h);
            Assert.DoesNotContain('/', h);
            Assert.InRange(h.Length, 2, 6);
        }
    }
}
