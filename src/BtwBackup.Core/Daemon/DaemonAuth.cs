using System.Security.Cryptography;
using System.Text;

namespace BtwBackup.Daemon;

/// <summary>
/// The proofs of the CLI-daemon handshake: each side shows it holds CONFIG_DIR/daemon.token by an
/// HMAC-SHA256 over fresh nonces (and, for a request or a reply, over its text), so the token
/// itself never crosses the wire and a proof is good for one exchange only. Each proof has its
/// own label, so one can never be replayed as another.
/// </summary>
public sealed class DaemonAuth(string token)
{
    private const int NonceBytes = 32;

    private readonly byte[] _key = Encoding.UTF8.GetBytes(token);

    /// <summary>A fresh random nonce (64 hex digits).</summary>
    public static string NewNonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(NonceBytes));

    /// <summary>True for what <see cref="NewNonce"/> makes: anything else from the wire is refused before it is used.</summary>
    public static bool IsNonce(string? text) =>
        text is { Length: NonceBytes * 2 } && text.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');

    /// <summary>The daemon's proof, sent with its challenge.</summary>
    public string DaemonProof(string clientNonce, string daemonNonce) => Mac("daemon", clientNonce, daemonNonce);

    /// <summary>The CLI's proof, bound to the command it sends and to where its progress goes.</summary>
    public string RequestProof(string clientNonce, string daemonNonce, string commandText, string? progressTo) =>
        Mac("request", clientNonce, daemonNonce, progressTo ?? "", commandText);

    /// <summary>The daemon's proof on its reply, so that no other local process can answer in its name.</summary>
    public string ReplyProof(string clientNonce, string daemonNonce, string replyText) => Mac("reply", clientNonce, daemonNonce, replyText);

    /// <summary>Compares in constant time.</summary>
    public static bool Same(string expected, string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(presented));

    private string Mac(string label, params string[] parts)
    {
        // Length-prefixed parts: no two different lists of parts give the same bytes.
        var text = new StringBuilder("btw-backup/1 ").Append(label);
        foreach (var part in parts)
            text.Append('\n').Append(part.Length).Append(':').Append(part);
        return Convert.ToHexStringLower(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(text.ToString())));
    }
}
