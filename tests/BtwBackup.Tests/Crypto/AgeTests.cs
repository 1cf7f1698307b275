using System.Diagnostics;
using System.Security.Cryptography;
using BtwBackup.Crypto;
using Xunit;

namespace BtwBackup.Tests.Crypto;

/// <summary>The age format against itself and against the reference implementation (the Debian package age).</summary>
public sealed class AgeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-age-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Encrypt(byte[] plain, params AgeRecipient[] recipients)
    {
        using var stream = Age.Encrypt(new MemoryStream(plain), recipients);
        using var output = new MemoryStream();
        stream.CopyTo(output);
        Assert.Equal(output.Length, stream.Length);
        return output.ToArray();
    }

    private static byte[] Decrypt(byte[] cipher, params AgeIdentity[] identities)
    {
        using var stream = Age.Decrypt(new MemoryStream(cipher), identities);
        using var output = new MemoryStream();
        stream.CopyTo(output);
        return output.ToArray();
    }

    /// <summary>Where the header ends: after the newline of its "--- MAC" line.</summary>
    private static int HeaderEnd(byte[] cipher)
    {
        var dashes = cipher.AsSpan().IndexOf("\n--- "u8);
        return dashes + 1 + cipher.AsSpan(dashes + 1).IndexOf((byte)'\n') + 1;
    }

    /// <summary>Runs a program with bytes on its standard input; its exit code and standard output.</summary>
    private static (int Code, byte[] Stdout, string Stderr) RunTool(string program, byte[] stdin, params string[] args)
    {
        var start = new ProcessStartInfo(program, args) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = new MemoryStream();
        var reading = process.StandardOutput.BaseStream.CopyToAsync(output);
        var errors = process.StandardError.ReadToEndAsync();
        process.StandardInput.BaseStream.Write(stdin);
        process.StandardInput.Close();
        reading.Wait();
        process.WaitForExit();
        return (process.ExitCode, output.ToArray(), errors.Result);
    }

    public static TheoryData<int> Sizes => [0, 1, 1000, Age.ChunkSize - 1, Age.ChunkSize, Age.ChunkSize + 1, 3 * Age.ChunkSize, 3 * Age.ChunkSize + 17];

    [Theory]
    [MemberData(nameof(Sizes))]
    public void What_it_encrypts_the_reference_decrypts_byte_identical_and_back(int size)
    {
        var plain = RandomNumberGenerator.GetBytes(size);
        var identity = AgeIdentity.Generate();
        var file = Path.Combine(_dir, "key.txt");
        File.WriteAllText(file, identity.Secret + "\n");

        var ours = Encrypt(plain, identity.Recipient);
        Assert.Equal(Age.PayloadLength(size), ours.Length - HeaderEnd(ours));
        Assert.Equal(Age.EncryptedLength(1, size), ours.Length);
        Assert.Equal(Age.EncryptedLength(3, size), Encrypt(plain, identity.Recipient, AgeIdentity.Generate().Recipient, AgeIdentity.Generate().Recipient).Length);
        var (code, decrypted, stderr) = RunTool("age", ours, "-d", "-i", file);
        Assert.True(code == 0, stderr);
        Assert.Equal(plain, decrypted);

        var (code2, theirs, stderr2) = RunTool("age", plain, "-r", identity.Recipient.ToString());
        Assert.True(code2 == 0, stderr2);
        Assert.Equal(plain, Decrypt(theirs, identity));
    }

    [Fact]
    public void Keys_read_as_age_keygen_writes_them_and_several_recipients_each_decrypt()
    {
        var file = Path.Combine(_dir, "keygen.txt");
        var (code, _, stderr) = RunTool("age-keygen", [], "-o", file);
        Assert.True(code == 0, stderr);
        var identity = Assert.Single(AgeIdentity.ReadFile(file));
        var (_, recipient, _) = RunTool("age-keygen", [], "-y", file);
        Assert.Equal(System.Text.Encoding.ASCII.GetString(recipient).Trim(), identity.Recipient.ToString());
        Assert.Equal(identity.Recipient, AgeRecipient.Parse(identity.Recipient.ToString()));

        var escrow = AgeIdentity.Generate();
        var plain = "two readers"u8.ToArray();
        var cipher = Encrypt(plain, identity.Recipient, escrow.Recipient);
        Assert.Equal(plain, Decrypt(cipher, identity));
        Assert.Equal(plain, Decrypt(cipher, escrow));
        var (code3, theirs, stderr3) = RunTool("age", cipher, "-d", "-i", file);
        Assert.True(code3 == 0, stderr3);
        Assert.Equal(plain, theirs);
    }

    [Theory]
    [InlineData("age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gz")]
    [InlineData("age1")]
    [InlineData("AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS2GPKQT")]
    [InlineData("ssh-ed25519 AAAA")]
    public void What_is_not_a_recipient_is_refused_by_name(string text)
    {
        var e = Assert.Throws<AgeKeyException>(() => AgeRecipient.Parse(text));
        Assert.EndsWith("is not an age recipient (age1... of 62 characters, X25519)", e.Message);
    }

    [Fact]
    public void Every_kind_of_damage_fails_authentication_and_a_wrong_identity_is_named()
    {
        var identity = AgeIdentity.Generate();
        var plain = RandomNumberGenerator.GetBytes(4 * Age.ChunkSize + 100);
        var cipher = Encrypt(plain, identity.Recipient);
        var payload = HeaderEnd(cipher) + Age.NonceSize;
        var chunk = Age.ChunkSize + Age.TagSize;

        byte[] Flipped(int at)
        {
            var copy = (byte[])cipher.Clone();
            copy[at] ^= 1;
            return copy;
        }

        byte[] Swapped()
        {
            var copy = (byte[])cipher.Clone();
            Array.Copy(cipher, payload, copy, payload + chunk, chunk);
            Array.Copy(cipher, payload + chunk, copy, payload, chunk);
            return copy;
        }

        var damaged = new Dictionary<string, byte[]>
        {
            ["a flipped payload byte"] = Flipped(payload + 2 * chunk + 5),
            ["cut at a chunk boundary"] = cipher[..(payload + 2 * chunk)],
            ["the final chunk dropped"] = cipher[..(payload + 4 * chunk)],
            ["two chunks swapped"] = Swapped(),
            ["cut inside the last chunk"] = cipher[..^10],
        };
        foreach (var (what, bytes) in damaged)
        {
            var e = Assert.Throws<AgeDecryptException>(() => Decrypt(bytes, identity));
            Assert.True(e.Message.Contains("fails authentication", StringComparison.Ordinal) || e.Message.StartsWith("truncated", StringComparison.Ordinal), $"{what}: {e.Message}");
        }

        // The header: its MAC covers every stanza.
        var header = System.Text.Encoding.ASCII.GetString(cipher, 0, payload - Age.NonceSize);
        var stanza = header.Split('\n')[2];
        var otherBody = header.Replace(stanza, stanza[..^2] + (stanza[^2] == 'A' ? "B" : "A") + stanza[^1], StringComparison.Ordinal);
        Assert.Throws<AgeDecryptException>(() => Decrypt([.. System.Text.Encoding.ASCII.GetBytes(otherBody), .. cipher[(payload - Age.NonceSize)..]], identity));
        var wrong = Assert.Throws<AgeDecryptException>(() => Decrypt(cipher, AgeIdentity.Generate()));
        Assert.Equal("no identity given matches any of its recipients", wrong.Message);
        Assert.Equal("not an age file (no age-encryption.org/v1 header)", Assert.Throws<AgeDecryptException>(() => Decrypt("plain text\n"u8.ToArray(), identity)).Message);
    }

    [Fact]
    public void An_identity_file_that_is_a_device_a_pipe_or_huge_is_refused_unread()
    {
        var fifo = Path.Combine(_dir, "pipe");
        Assert.Equal(0, RunTool("mkfifo", [], fifo).Code);
        var huge = Path.Combine(_dir, "huge.txt");
        File.WriteAllBytes(huge, new byte[100_000]);
        foreach (var path in new[] { "/dev/zero", fifo, huge })
        {
            var e = Assert.Throws<AgeKeyException>(() => AgeIdentity.ReadFile(path));
            Assert.Equal($"{path} is not an identity file (empty, not a regular file, or larger than 64 KiB)", e.Message);
        }

        Assert.Equal($"the identity file {_dir}/none does not exist", Assert.Throws<AgeKeyException>(() => AgeIdentity.ReadFile(Path.Combine(_dir, "none"))).Message);
    }
}
