using System.Security.Cryptography;
using System.Text;
using BtwBackup.Tools;
using Xunit;

namespace BtwBackup.Tests.Tools;

public sealed class SqlLineHasherTests
{
    private const string Sql = "--\n-- PostgreSQL database dump\n--\n\\restrict 3kQx9\nSET a = 1;\nCOPY public.item (id, name) FROM stdin;\n1\tone \\restrict kept\n\\.\n\\unrestrict 3kQx9\n";
    private const string Kept = "--\n-- PostgreSQL database dump\n--\nSET a = 1;\nCOPY public.item (id, name) FROM stdin;\n1\tone \\restrict kept\n\\.\n";

    private static byte[] Hash(string text, int piece)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        using var hasher = new SqlLineHasher();
        for (var at = 0; at < bytes.Length; at += piece)
            hasher.Append(bytes.AsSpan(at, Math.Min(piece, bytes.Length - at)));
        return hasher.Finish();
    }

    [Fact]
    public void The_restrict_lines_are_left_out_and_everything_else_is_hashed_as_it_is_in_pieces_of_any_size()
    {
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(Kept));
        foreach (var piece in new[] { 1, 2, 3, 5, 11, 12, 13, 64, 4096 })
            Assert.Equal(expected, Hash(Sql, piece));
    }

    [Fact]
    public void Two_dumps_that_differ_in_their_keys_only_have_one_digest_and_any_other_byte_changes_it()
    {
        var otherKeys = Sql.Replace("3kQx9", "Zz81p", StringComparison.Ordinal);
        Assert.Equal(Hash(Sql, 7), Hash(otherKeys, 7));
        Assert.NotEqual(Hash(Sql, 7), Hash(Sql.Replace("one", "One", StringComparison.Ordinal), 7));
        Assert.NotEqual(Hash(Sql, 7), Hash(Sql.Replace("SET a = 1;\n", "SET a = 1;\r\n", StringComparison.Ordinal), 7));
        // A line that only looks like a key line is data.
        Assert.NotEqual(Hash("\\restrictX\n", 3), Hash("", 3));
    }

    [Fact]
    public void A_last_line_without_its_end_and_lines_longer_than_any_buffer_are_hashed_whole()
    {
        var longLine = new string('x', 200_000) + "\n";
        var text = longLine + "\\restrict k\n" + longLine + "end";
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(longLine + longLine + "end")), Hash(text, 65_536));
        Assert.Equal(SHA256.HashData("SET"u8), Hash("SET", 1));
        Assert.Equal(SHA256.HashData([]), Hash("\\unrestrict k", 4));
    }
}
