using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace BtwBackup.Daemon;

/// <summary>
/// The keys of the CLI-daemon handshake. The daemon shows it holds CONFIG_DIR/daemon.token by an
/// HMAC-SHA256 over both fresh nonces; then the command, the reply and every progress line travel
/// sealed (AES-256-GCM) under a key derived from the token and both nonces. The token itself never
/// crosses the wire; another local process that slips into the connection (Akka.Remote lets a new
/// connection claim an address) can neither read, alter, replay nor forge any of them. Each proof
/// and each direction has its own label, so none can be replayed as another.
/// </summary>
public sealed class DaemonAuth(string token)
{
    private const int NonceBytes = 32;

    private readonly byte[] _key = Encoding.UTF8.GetBytes(token);

    /// <summary>A fresh random nonce (64 hex digits).</summary>
    public static string NewNonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(NonceBytes));

    /// <summary>True for a nonce's shape (64 lowercase hex digits): anything else from the wire is refused before it is used.</summary>
    public static bool IsNonce(string? text) =>
        text is { Length: NonceBytes * 2 } && text.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');

    /// <summary>The daemon's proof, sent with its challenge.</summary>
    public string DaemonProof(string clientNonce, string daemonNonce) => Convert.ToHexStringLower(Mac("daemon", clientNonce, daemonNonce));

    /// <summary>The keys of one command's exchange.</summary>
    public DaemonSession Session(string clientNonce, string daemonNonce) => new(Mac("session", clientNonce, daemonNonce));

    /// <summary>Compares in constant time.</summary>
    public static bool Same(string expected, string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(presented));

    private byte[] Mac(string label, params string[] parts) => HMACSHA256.HashData(_key, Labelled(label, parts));

    /// <summary>Length-prefixed parts: no two different lists of parts give the same bytes.</summary>
    internal static byte[] Labelled(string label, params string[] parts)
    {
        var text = new StringBuilder("btw-backup/2 ").Append(label);
        foreach (var part in parts)
            text.Append('\n').Append(part.Length).Append(':').Append(part);
        return Encoding.UTF8.GetBytes(text.ToString());
    }
}

/// <summary>Which way a sealed text goes: each has its own nonces under the session's key.</summary>
public enum SealedWay
{
    Request = 1,
    Reply = 2,
    Progress = 3,
}

/// <summary>
/// One exchange's key (from the token and both nonces, so used by no other exchange): seals and
/// opens texts with AES-256-GCM, the GCM nonce being the way and a sequence number, so that no
/// nonce is ever used twice under one key and a sealed text cannot be moved to another place.
/// </summary>
public sealed class DaemonSession(byte[] key)
{
    private const int TagBytes = 16;

    public string Seal(SealedWay way, ulong sequence, string text, string associated)
    {
        var plain = Encoding.UTF8.GetBytes(text);
        var sealedBytes = new byte[plain.Length + TagBytes];
        using var aes = new AesGcm(key, TagBytes);
        aes.Encrypt(Nonce(way, sequence), plain, sealedBytes.AsSpan(0, plain.Length), sealedBytes.AsSpan(plain.Length), Associated(way, associated));
        return Convert.ToBase64String(sealedBytes);
    }

    /// <summary>The text, or null when it was not sealed by this exchange's key at this place (or was altered).</summary>
    public string? Open(SealedWay way, ulong sequence, string? sealedText, string associated)
    {
        if (sealedText is null)
            return null;
        var sealedBytes = new byte[sealedText.Length];
        if (!Convert.TryFromBase64String(sealedText, sealedBytes, out var length) || length < TagBytes)
            return null;
        var plain = new byte[length - TagBytes];
        try
        {
            using var aes = new AesGcm(key, TagBytes);
            aes.Decrypt(Nonce(way, sequence), sealedBytes.AsSpan(0, plain.Length), sealedBytes.AsSpan(plain.Length, TagBytes), plain, Associated(way, associated));
            return new UTF8Encoding(false, true).GetString(plain);
        }
        catch (Exception e) when (e is AuthenticationTagMismatchException or DecoderFallbackException)
        {
            return null;
        }
    }

    private static byte[] Nonce(SealedWay way, ulong sequence)
    {
        var nonce = new byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(nonce, (uint)way);
        BinaryPrimitives.WriteUInt64BigEndian(nonce.AsSpan(4), sequence);
        return nonce;
    }

    private static byte[] Associated(SealedWay way, string associated) => DaemonAuth.Labelled(way.ToString(), associated);
}
