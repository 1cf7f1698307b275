using NSec.Cryptography;

namespace BtwBackup.Crypto;

/// <summary>A key that is not what it claims to be; the message never holds the key.</summary>
public sealed class AgeKeyException(string message) : Exception(message);

/// <summary>An age X25519 recipient (a public key: "age1..."): what a backup host holds.</summary>
public sealed record AgeRecipient
{
    private AgeRecipient(byte[] key) => Key = key;

    /// <summary>The raw X25519 public key (32 bytes).</summary>
    public byte[] Key { get; }

    public static AgeRecipient Parse(string text) =>
        Bech32.Decode("age", text.Trim()) is { Length: 32 } key && text.Trim().StartsWith("age1", StringComparison.Ordinal)
            ? new AgeRecipient(key)
            : throw new AgeKeyException($"{Shown(text)} is not an age recipient (age1... of 62 characters, X25519)");

    /// <summary>A text that is no recipient, as an error may show it: never a secret key pasted by mistake.</summary>
    private static string Shown(string text) =>
        text.Contains("SECRET", StringComparison.OrdinalIgnoreCase) ? "a secret key (never written here)" : $"'{(text.Length > 80 ? text[..80] + "..." : text)}'";

    internal static AgeRecipient FromKey(byte[] key) => new(key);

    public override string ToString() => Bech32.Encode("age", Key);

    public bool Equals(AgeRecipient? other) => other is not null && Key.AsSpan().SequenceEqual(other.Key);

    public override int GetHashCode() => BitConverter.ToInt32(Key, 0);
}

/// <summary>
/// An age X25519 identity (the secret key: "AGE-SECRET-KEY-1..."), needed only to read backups
/// back: never on the backup host, never in a log. <see cref="ToString"/> does not show it.
/// </summary>
public sealed class AgeIdentity
{
    private readonly byte[] _secret;

    private AgeIdentity(byte[] secret)
    {
        _secret = secret;
        using var key = Key.Import(KeyAgreementAlgorithm.X25519, secret, KeyBlobFormat.RawPrivateKey);
        Recipient = AgeRecipient.FromKey(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    public AgeRecipient Recipient { get; }

    public static AgeIdentity Generate()
    {
        using var key = Key.Create(KeyAgreementAlgorithm.X25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return new AgeIdentity(key.Export(KeyBlobFormat.RawPrivateKey));
    }

    public static AgeIdentity Parse(string text) =>
        Bech32.Decode("AGE-SECRET-KEY-", text.Trim()) is { Length: 32 } secret && text.Trim().StartsWith("AGE-SECRET-KEY-1", StringComparison.Ordinal)
            ? new AgeIdentity(secret)
            : throw new AgeKeyException("not an age identity (AGE-SECRET-KEY-1..., X25519)");

    private const long MaxFile = 64 * 1024;

    /// <summary>The identities of an identity file (age-keygen's format: '#' comments, one key per line).</summary>
    public static IReadOnlyList<AgeIdentity> ReadFile(string path)
    {
        string[] lines;
        try
        {
            // Only a regular file of a few lines: a device or a pipe (no size) is never read, nor a huge file.
            var info = new FileInfo(path);
            if (!info.Exists)
                throw new AgeKeyException($"the identity file {path} does not exist");
            if (info.Length is 0 or > MaxFile)
                throw new AgeKeyException($"{path} is not an identity file (empty, not a regular file, or larger than {MaxFile / 1024} KiB)");
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new AgeKeyException($"cannot read the identity file {path}: {e.Message}");
        }

        var keys = lines.Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        if (keys.Count == 0)
            throw new AgeKeyException($"{path} holds no age identity (AGE-SECRET-KEY-1... lines)");
        var identities = new List<AgeIdentity>();
        for (var i = 0; i < keys.Count; i++)
        {
            try
            {
                identities.Add(Parse(keys[i]));
            }
            catch (AgeKeyException)
            {
                throw new AgeKeyException($"{path}: its identity {i + 1} is not an age X25519 identity (AGE-SECRET-KEY-1...)");
            }
        }

        return identities;
    }

    /// <summary>The secret as age writes it; only for the identity file <c>keygen</c> writes.</summary>
    public string Secret => Bech32.Encode("AGE-SECRET-KEY-", _secret);

    internal Key ImportKey() => Key.Import(KeyAgreementAlgorithm.X25519, _secret, KeyBlobFormat.RawPrivateKey);

    public override string ToString() => "age identity of " + Recipient;
}
