using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;
using ChaCha20Poly1305 = System.Security.Cryptography.ChaCha20Poly1305;

namespace BtwBackup.Crypto;

/// <summary>Ciphertext that cannot be read: not age, no identity matches, or tampered, truncated or reordered.</summary>
public sealed class AgeDecryptException(string message) : Exception(message);

/// <summary>
/// The age v1 file format (C2SP age specification), X25519 recipients only: a text header that
/// wraps a random 16-byte file key for each recipient and is authenticated by an HMAC under that
/// key, a 16-byte nonce, then the payload in 64 KiB chunks of ChaCha20-Poly1305 (STREAM: an
/// 11-byte counter and a last-chunk flag in each nonce, so that a chunk dropped, moved or cut off
/// fails). Built on .NET's ChaCha20Poly1305, HKDF and HMACSHA256, and libsodium's X25519 (NSec).
/// </summary>
public static class Age
{
    public const int ChunkSize = 64 * 1024;
    public const int TagSize = 16;
    public const int NonceSize = 16;
    private const string Intro = "age-encryption.org/v1";
    private static readonly byte[] X25519Info = "age-encryption.org/v1/X25519"u8.ToArray();

    /// <summary>A reading stream of the age encryption of <paramref name="plaintext"/> (read to its end) to every recipient.</summary>
    public static Stream Encrypt(Stream plaintext, IReadOnlyList<AgeRecipient> recipients) => new EncryptingStream(plaintext, recipients);

    /// <summary>A reading stream of the plaintext of <paramref name="ciphertext"/>; its header is read and checked here (<see cref="AgeDecryptException"/>).</summary>
    public static Stream Decrypt(Stream ciphertext, IReadOnlyList<AgeIdentity> identities) => new DecryptingStream(ciphertext, identities);

    /// <summary>
    /// The size of the encryption of <paramref name="plainLength"/> bytes to <paramref name="recipients"/>
    /// X25519 recipients: the header (the intro line, 98 bytes per stanza, the MAC line) and the payload.
    /// </summary>
    public static long EncryptedLength(int recipients, long plainLength) => Intro.Length + 1 + 98L * recipients + 48 + PayloadLength(plainLength);

    /// <summary>The size of the payload (nonce and chunks) of <paramref name="plainLength"/> bytes of plaintext.</summary>
    public static long PayloadLength(long plainLength) =>
        NonceSize + (plainLength == 0 ? TagSize : plainLength + TagSize * ((plainLength + ChunkSize - 1) / ChunkSize));

    internal static string B64(ReadOnlySpan<byte> data) => Convert.ToBase64String(data).TrimEnd('=');

    /// <summary>Canonical unpadded base64, or null.</summary>
    internal static byte[]? FromB64(string text)
    {
        if (text.Contains('=') || text.Length % 4 == 1)
            return null;
        try
        {
            var bytes = Convert.FromBase64String(text + new string('=', (4 - text.Length % 4) % 4));
            return B64(bytes) == text ? bytes : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    internal static byte[] Hkdf(ReadOnlySpan<byte> ikm, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> info)
    {
        var key = new byte[32];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, key, salt, info);
        return key;
    }

    internal static byte[] HeaderMac(ReadOnlySpan<byte> fileKey, ReadOnlySpan<byte> headerUpToDashes) =>
        HMACSHA256.HashData(Hkdf(fileKey, [], "header"u8), headerUpToDashes);

    internal static void ChunkNonce(Span<byte> nonce, long counter, bool last)
    {
        nonce.Clear();
        BinaryPrimitives.WriteInt64BigEndian(nonce[3..11], counter);
        nonce[11] = last ? (byte)1 : (byte)0;
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; the count read.</summary>
    internal static int Fill(Stream stream, Span<byte> buffer)
    {
        var count = 0;
        while (count < buffer.Length)
        {
            var n = stream.Read(buffer[count..]);
            if (n == 0)
                break;
            count += n;
        }

        return count;
    }

    /// <summary>
    /// The next block of <paramref name="source"/> into <paramref name="buffer"/> (filled unless the
    /// source ends), and whether it is the last: a full block is the last only if nothing follows
    /// it, which takes reading one byte ahead (kept in <paramref name="lookahead"/>, -1 for none).
    /// </summary>
    internal static (int Count, bool Last) NextBlock(Stream source, byte[] buffer, ref int lookahead)
    {
        var count = 0;
        if (lookahead >= 0)
        {
            buffer[0] = (byte)lookahead;
            count = 1;
            lookahead = -1;
        }

        count += Fill(source, buffer.AsSpan(count));
        var last = count < buffer.Length || (lookahead = source.ReadByte()) < 0;
        return (count, last);
    }

    /// <summary>The X25519 stanza of one recipient: "-> X25519 SHARE" and the wrapped file key.</summary>
    internal static string Stanza(AgeRecipient recipient, ReadOnlySpan<byte> fileKey)
    {
        var algorithm = KeyAgreementAlgorithm.X25519;
        using var ephemeral = Key.Create(algorithm);
        var share = ephemeral.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        using var shared = algorithm.Agree(ephemeral, PublicKey.Import(algorithm, recipient.Key, KeyBlobFormat.RawPublicKey))
            ?? throw new AgeKeyException($"{recipient}: a low-order X25519 key, not a recipient");
        var wrapKey = KeyDerivationAlgorithm.HkdfSha256.DeriveBytes(shared, [.. share, .. recipient.Key], X25519Info, 32);
        var body = new byte[fileKey.Length + TagSize];
        using (var aead = new ChaCha20Poly1305(wrapKey))
            aead.Encrypt(new byte[12], fileKey, body.AsSpan(0, fileKey.Length), body.AsSpan(fileKey.Length));
        return $"-> X25519 {B64(share)}\n{B64(body)}\n";
    }

    /// <summary>The file key an X25519 stanza wraps for <paramref name="identity"/>, or null when it is not for that identity.</summary>
    internal static byte[]? Unwrap(AgeIdentity identity, byte[] share, byte[] body)
    {
        var algorithm = KeyAgreementAlgorithm.X25519;
        using var key = identity.ImportKey();
        using var shared = algorithm.Agree(key, PublicKey.Import(algorithm, share, KeyBlobFormat.RawPublicKey));
        if (shared is null)
            throw new AgeDecryptException("an X25519 stanza with a low-order share");
        var wrapKey = KeyDerivationAlgorithm.HkdfSha256.DeriveBytes(shared, [.. share, .. identity.Recipient.Key], X25519Info, 32);
        var fileKey = new byte[16];
        using var aead = new ChaCha20Poly1305(wrapKey);
        try
        {
            aead.Decrypt(new byte[12], body.AsSpan(0, 16), body.AsSpan(16), fileKey);
            return fileKey;
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
    }

    private sealed class EncryptingStream : ReadOnlyStream
    {
        private readonly Stream _plain;
        private readonly ChaCha20Poly1305 _aead;
        private readonly byte[] _in = new byte[ChunkSize];
        private readonly byte[] _out = new byte[ChunkSize + TagSize];
        private readonly byte[] _nonce = new byte[12];
        private readonly long _length;
        private ReadOnlyMemory<byte> _ready;
        private long _counter;
        private int _lookahead = -1;
        private bool _done;
        private long _position;

        public EncryptingStream(Stream plain, IReadOnlyList<AgeRecipient> recipients)
        {
            if (recipients.Count == 0)
                throw new ArgumentException("no recipient", nameof(recipients));
            _plain = plain;
            var fileKey = RandomNumberGenerator.GetBytes(16);
            var header = new StringBuilder(Intro + "\n");
            foreach (var r in recipients)
                header.Append(Stanza(r, fileKey));
            header.Append("---");
            var mac = HeaderMac(fileKey, Encoding.ASCII.GetBytes(header.ToString()));
            header.Append(' ').Append(B64(mac)).Append('\n');
            var nonce = RandomNumberGenerator.GetBytes(NonceSize);
            byte[] first = [.. Encoding.ASCII.GetBytes(header.ToString()), .. nonce];
            _ready = first;
            _aead = new ChaCha20Poly1305(Hkdf(fileKey, nonce, "payload"u8));
            _length = plain.CanSeek ? first.Length - NonceSize + PayloadLength(plain.Length - plain.Position) : -1;
        }

        /// <summary>Known when the plaintext's is (a file): what an upload declares as its size.</summary>
        public override long Length => _length >= 0 ? _length : throw new NotSupportedException();

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            if (_ready.IsEmpty && !_done)
                NextChunk();
            var n = Math.Min(buffer.Length, _ready.Length);
            _ready.Span[..n].CopyTo(buffer);
            _ready = _ready[n..];
            _position += n;
            return n;
        }

        private void NextChunk()
        {
            var (count, last) = NextBlock(_plain, _in, ref _lookahead);
            ChunkNonce(_nonce, _counter++, last);
            _aead.Encrypt(_nonce, _in.AsSpan(0, count), _out.AsSpan(0, count), _out.AsSpan(count, TagSize));
            _ready = _out.AsMemory(0, count + TagSize);
            _done = last;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _aead.Dispose();
                _plain.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private sealed class DecryptingStream : ReadOnlyStream
    {
        private readonly Stream _cipher;
        private readonly ChaCha20Poly1305 _aead;
        private readonly byte[] _in = new byte[ChunkSize + TagSize];
        private readonly byte[] _out = new byte[ChunkSize];
        private readonly byte[] _nonce = new byte[12];
        private ReadOnlyMemory<byte> _ready;
        private long _counter;
        private int _lookahead = -1;
        private bool _done;

        public DecryptingStream(Stream cipher, IReadOnlyList<AgeIdentity> identities)
        {
            _cipher = cipher;
            var fileKey = ReadHeader(identities);
            var nonce = new byte[NonceSize];
            if (Fill(cipher, nonce) < NonceSize)
                throw new AgeDecryptException("truncated: the payload's nonce is missing");
            _aead = new ChaCha20Poly1305(Hkdf(fileKey, nonce, "payload"u8));
        }

        /// <summary>One header line, without its newline; its bytes are added to <paramref name="header"/>.</summary>
        private string Line(List<byte> header)
        {
            var line = new List<byte>();
            while (true)
            {
                var b = _cipher.ReadByte();
                if (b < 0)
                    throw new AgeDecryptException("not an age file, or its header is cut off");
                header.Add((byte)b);
                if (b == '\n')
                    break;
                if (b is < 0x20 or > 0x7e || line.Count > 4096)
                    throw new AgeDecryptException("not an age file (its header is not age's)");
                line.Add((byte)b);
            }

            return Encoding.ASCII.GetString([.. line]);
        }

        private byte[] ReadHeader(IReadOnlyList<AgeIdentity> identities)
        {
            var header = new List<byte>();
            if (Line(header) != Intro)
                throw new AgeDecryptException("not an age file (no age-encryption.org/v1 header)");
            var stanzas = new List<(string[] Args, byte[] Body)>();
            string line;
            while ((line = Line(header)).StartsWith("-> ", StringComparison.Ordinal))
            {
                var args = line[3..].Split(' ');
                var body = new List<byte>();
                while (true)
                {
                    var bodyLine = Line(header);
                    var bytes = bodyLine.Length <= 64 ? FromB64(bodyLine) : null;
                    if (bytes is null)
                        throw new AgeDecryptException("its header is not age's (a stanza's body is not base64)");
                    body.AddRange(bytes);
                    if (bodyLine.Length < 64)
                        break;
                }

                stanzas.Add((args, [.. body]));
                if (stanzas.Count > 1024)
                    throw new AgeDecryptException("its header has too many stanzas");
            }

            if (!line.StartsWith("--- ", StringComparison.Ordinal) || FromB64(line[4..]) is not { Length: 32 } mac)
                throw new AgeDecryptException("its header is not age's (no MAC line)");
            var covered = header.Take(header.Count - line.Length - 1 + 3).ToArray();
            foreach (var (args, body) in stanzas.Where(s => s.Args is ["X25519", _]))
            {
                if (FromB64(args[1]) is not { Length: 32 } share || body.Length != 32)
                    throw new AgeDecryptException("its header is not age's (an X25519 stanza of the wrong size)");
                foreach (var identity in identities)
                {
                    if (Unwrap(identity, share, body) is not { } fileKey)
                        continue;
                    if (!CryptographicOperations.FixedTimeEquals(HeaderMac(fileKey, covered), mac))
                        throw new AgeDecryptException("its header fails authentication (tampered)");
                    return fileKey;
                }
            }

            throw new AgeDecryptException("no identity given matches any of its recipients");
        }

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            while (_ready.IsEmpty && !_done)
                NextChunk();
            var n = Math.Min(buffer.Length, _ready.Length);
            _ready.Span[..n].CopyTo(buffer);
            _ready = _ready[n..];
            return n;
        }

        private void NextChunk()
        {
            var (count, last) = NextBlock(_cipher, _in, ref _lookahead);
            if (count < TagSize)
                throw new AgeDecryptException(_counter == 0 && count == 0 ? "truncated: no payload" : "truncated: its last chunk is missing or cut off");
            var plain = count - TagSize;
            if (last && plain == 0 && _counter > 0)
                throw new AgeDecryptException("an empty last chunk after others (not age's)");
            ChunkNonce(_nonce, _counter, last);
            try
            {
                _aead.Decrypt(_nonce, _in.AsSpan(0, plain), _in.AsSpan(plain, TagSize), _out.AsSpan(0, plain));
            }
            catch (AuthenticationTagMismatchException)
            {
                throw new AgeDecryptException($"chunk {_counter} fails authentication (tampered, truncated or reordered)");
            }

            _counter++;
            _ready = _out.AsMemory(0, plain);
            _done = last;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _aead?.Dispose();
                _cipher.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
