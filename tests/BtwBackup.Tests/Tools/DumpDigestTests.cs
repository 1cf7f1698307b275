using BtwBackup.Backup;
using BtwBackup.Tools;
using Xunit;

namespace BtwBackup.Tests.Tools;

public sealed class DumpDigestTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-dumpdigest-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Counts its calls; its digest is a marker no file hashes to.</summary>
    private sealed class Fallback : IContentDigest
    {
        public static readonly byte[] Marker = Enumerable.Repeat((byte)0xAB, 32).ToArray();

        public int Calls;

        public Task<byte[]?> DigestAsync(string file, CancellationToken ct)
        {
            Interlocked.Increment(ref Calls);
            return Task.FromResult<byte[]?>(Marker);
        }
    }

    /// <summary>
    /// An archive as pg_dump writes its header: PGDMP, version, int and offset sizes, format, the
    /// compression (an int before 1.15, a byte from 1.15), the time as seven ints, then the body.
    /// </summary>
    private static byte[] Archive(int minor, int second, byte[] body, int intSize = 4, byte format = 1) =>
        Archive(minor, [second, 59, 23, 31, 11, 126, 0], body, intSize, format);

    private static byte[] Archive(int minor, int[] time, byte[] body, int intSize = 4, byte format = 1)
    {
        var bytes = new List<byte>("PGDMP"u8.ToArray()) { 1, (byte)minor, 0, (byte)intSize, 8, format };
        void Int(int value)
        {
            bytes.Add(value < 0 ? (byte)1 : (byte)0);
            var magnitude = Math.Abs(value);
            for (var i = 0; i < intSize; i++)
                bytes.Add((byte)(magnitude >> (8 * i)));
        }

        if (minor >= 15)
            bytes.Add(1); // gzip
        else
            Int(-1); // the default zlib level
        foreach (var field in time)
            Int(field);
        bytes.AddRange(body);
        return [.. bytes];
    }

    private async Task<byte[]?> DigestAsync(byte[] archive, Fallback fallback)
    {
        var file = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".dump");
        await File.WriteAllBytesAsync(file, archive);
        return await new DumpDigest(fallback).DigestAsync(file, CancellationToken.None);
    }

    private static readonly byte[] Body = [.. "\u0003big\u0000PostgreSQL 15.18 TOC and data blocks"u8.ToArray(), .. Enumerable.Range(0, 3000).Select(i => (byte)i)];

    [Theory]
    [InlineData(12, 4, 16, 35)]
    [InlineData(14, 4, 16, 35)]
    [InlineData(14, 8, 20, 63)]
    [InlineData(15, 4, 12, 35)]
    [InlineData(15, 8, 12, 63)]
    [InlineData(16, 4, 12, 35)]
    [InlineData(16, 8, 12, 63)]
    public async Task Two_dumps_that_differ_only_in_their_time_have_one_digest_without_the_fallback(int minor, int intSize, int offset, int length)
    {
        var fallback = new Fallback();
        var archive = Archive(minor, [12, 59, 23, 31, 11, 126, 0], Body, intSize);
        Assert.Equal((offset, length), DumpDigest.TimeField(archive));
        var first = await DigestAsync(archive, fallback);
        // Every one of the seven fields other, the daylight-saving flag and a negative value included.
        var second = await DigestAsync(Archive(minor, [47, 0, 2, 1, 0, 127, -1], Body, intSize), fallback);
        Assert.NotNull(first);
        Assert.Equal(first, second);
        Assert.Equal(0, fallback.Calls);
    }

    [Fact]
    public async Task A_byte_changed_anywhere_but_the_time_changes_the_digest()
    {
        var fallback = new Fallback();
        var archive = Archive(14, 12, Body);
        var digest = await DigestAsync(archive, fallback);
        var time = DumpDigest.TimeField(archive)!.Value;
        Assert.Equal((16, 35), time);
        // The compression field, the bytes on both sides of the time, and the body.
        foreach (var at in new[] { 11, 15, time.Offset + time.Length, time.Offset + time.Length + 40, archive.Length - 1 })
        {
            var changed = (byte[])archive.Clone();
            changed[at] ^= 1;
            Assert.NotEqual(digest, await DigestAsync(changed, fallback));
        }

        Assert.NotEqual(digest, await DigestAsync(Archive(14, 12, [.. Body, 0]), fallback));
        Assert.Equal(0, fallback.Calls);
    }

    [Fact]
    public async Task A_header_this_parser_does_not_know_is_left_to_the_sql_digest()
    {
        var fallback = new Fallback();
        List<byte[]> unknown =
        [
            Archive(11, 12, Body),
            Archive(17, 12, Body),
            Archive(14, 12, Body, intSize: 2),
            Archive(14, 12, Body, format: 3), // tar format
            [.. "PGDMQ"u8.ToArray(), .. Archive(14, 12, Body)[5..]],
            Archive(14, 12, Body)[..12],
            [],
        ];
        var major2 = Archive(14, 12, Body);
        major2[5] = 2;
        unknown.Add(major2);
        var revision1 = Archive(14, 12, Body);
        revision1[7] = 1;
        unknown.Add(revision1);

        foreach (var archive in unknown)
            Assert.Equal(Fallback.Marker, await DigestAsync(archive, fallback));
        Assert.Equal(unknown.Count, fallback.Calls);
    }

    [Fact]
    public async Task A_file_that_ends_inside_the_time_has_no_digest()
    {
        var fallback = new Fallback();
        Assert.Null(await DigestAsync(Archive(14, 12, Body)[..30], fallback));
        Assert.Equal(0, fallback.Calls);
    }
}
