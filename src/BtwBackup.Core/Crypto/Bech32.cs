namespace BtwBackup.Crypto;

/// <summary>
/// Bech32 (BIP 173, without its 90-character limit), the encoding of age's keys: a human-readable
/// part, '1', the data in 5-bit groups, and a 6-character checksum.
/// </summary>
public static class Bech32
{
    private const string Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    private static readonly uint[] Generator = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

    public static string Encode(string hrp, ReadOnlySpan<byte> data)
    {
        var lower = hrp.ToLowerInvariant();
        var values = ToFiveBits(data);
        var checksum = Checksum(lower, values);
        var text = lower + "1" + new string([.. values.Concat(checksum).Select(v => Charset[v])]);
        return hrp == lower ? text : text.ToUpperInvariant();
    }

    /// <summary>The data of <paramref name="text"/> when its human-readable part is <paramref name="hrp"/> (any case, not mixed); null when it is not valid Bech32 of that part.</summary>
    public static byte[]? Decode(string hrp, string text)
    {
        if (text != text.ToLowerInvariant() && text != text.ToUpperInvariant())
            return null;
        var lower = text.ToLowerInvariant();
        var separator = lower.LastIndexOf('1');
        if (separator < 1 || lower[..separator] != hrp.ToLowerInvariant() || lower.Length - separator - 1 < 6)
            return null;
        var values = new List<byte>();
        foreach (var c in lower[(separator + 1)..])
        {
            var v = Charset.IndexOf(c);
            if (v < 0)
                return null;
            values.Add((byte)v);
        }

        if (Polymod(Expand(lower[..separator]).Concat(values)) != 1)
            return null;
        return FromFiveBits(values.Take(values.Count - 6).ToList());
    }

    private static uint Polymod(IEnumerable<byte> values)
    {
        uint chk = 1;
        foreach (var v in values)
        {
            var top = chk >> 25;
            chk = ((chk & 0x1ffffff) << 5) ^ v;
            for (var i = 0; i < 5; i++)
            {
                if (((top >> i) & 1) != 0)
                    chk ^= Generator[i];
            }
        }

        return chk;
    }

    private static IEnumerable<byte> Expand(string hrp) =>
        hrp.Select(c => (byte)(c >> 5)).Append((byte)0).Concat(hrp.Select(c => (byte)(c & 31)));

    private static byte[] Checksum(string hrp, List<byte> values)
    {
        var polymod = Polymod(Expand(hrp).Concat(values).Concat(new byte[6])) ^ 1;
        return [.. Enumerable.Range(0, 6).Select(i => (byte)((polymod >> (5 * (5 - i))) & 31))];
    }

    private static List<byte> ToFiveBits(ReadOnlySpan<byte> data)
    {
        var result = new List<byte>();
        int acc = 0, bits = 0;
        foreach (var b in data)
        {
            acc = (acc << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                result.Add((byte)((acc >> bits) & 31));
            }
        }

        if (bits > 0)
            result.Add((byte)((acc << (5 - bits)) & 31));
        return result;
    }

    private static byte[]? FromFiveBits(List<byte> values)
    {
        var result = new List<byte>();
        int acc = 0, bits = 0;
        foreach (var v in values)
        {
            acc = (acc << 5) | v;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                result.Add((byte)((acc >> bits) & 0xff));
            }
        }

        // Padding: fewer than 5 bits, all zero.
        return bits >= 5 || ((acc << (8 - bits)) & 0xff) != 0 ? null : [.. result];
    }
}
