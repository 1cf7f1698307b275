using System.Text;

namespace BtwBackup.Config;

/// <summary>
/// The suffix of a working folder's name, as the original computed it: murmur3 32-bit (seed 0)
/// of the UTF-8 source path, the value as big-endian bytes without leading zero bytes,
/// URL-safe base64 without padding.
/// </summary>
public static class SourceHash
{
    public static string Of(string sourcePath)
    {
        var value = Murmur3.Hash32(Encoding.UTF8.GetBytes(sourcePath), seed: 0);
        Span<byte> bytes = stackalloc byte[4];
        bytes[0] = (byte)(value >> 24);
        bytes[1] = (byte)(value >> 16);
        bytes[2] = (byte)(value >> 8);
        bytes[3] = (byte)value;
        var start = 0;
        // The original formats the value as hex and pads to an even number of digits, so a
        // zero value still yields one byte.
        while (start < 3 && bytes[start] == 0)
            start++;
        return Convert.ToBase64String(bytes[start..])
            .TrimEnd('=')
            .Replace('+', '-')
            .Replace('/', '_');
    }
}

/// <summary>MurmurHash3 x86 32-bit.</summary>
public static class Murmur3
{
    public static uint Hash32(ReadOnlySpan<byte> data, uint seed)
    {
        const uint c1 = 0xcc9e2d51;
        const uint c2 = 0x1b873593;
        var h = seed;
        var blocks = data.Length / 4;
        for (var i = 0; i < blocks; i++)
        {
            var k = BitConverter.ToUInt32(data.Slice(i * 4, 4));
            if (!BitConverter.IsLittleEndian)
                k = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(k);
            k *= c1;
            k = uint.RotateLeft(k, 15);
            k *= c2;
            h ^= k;
            h = uint.RotateLeft(h, 13);
            h = h * 5 + 0xe6546b64;
        }

        var tail = data[(blocks * 4)..];
        uint k1 = 0;
        switch (tail.Length)
        {
            case 3:
                k1 ^= (uint)tail[2] << 16;
                goto case 2;
            case 2:
                k1 ^= (uint)tail[1] << 8;
                goto case 1;
            case 1:
                k1 ^= tail[0];
                k1 *= c1;
                k1 = uint.RotateLeft(k1, 15);
                k1 *= c2;
                h ^= k1;
                break;
        }

        h ^= (uint)data.Length;
        h ^= h >> 16;
        h *= 0x85ebca6b;
        h ^= h >> 13;
        h *= 0xc2b2ae35;
        h ^= h >> 16;
        return h;
    }
}
