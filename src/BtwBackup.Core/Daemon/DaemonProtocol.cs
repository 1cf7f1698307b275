namespace BtwBackup.Daemon;

// The only messages that cross the CLI's door (see hocon/remoting.conf): nothing else arriving
// from the wire is deserialized. A command goes in three steps, and neither side ever sends the
// token (see DaemonAuth):
//   CLI -> gateway   Hello(client nonce)
//   gateway -> CLI   Challenge(both nonces, the daemon's proof)      the CLI checks it, or stops
//   CLI -> gateway   DaemonRequest(daemon nonce, the CLI's proof, the command)
//   gateway -> CLI   SignedReply(daemon nonce, the daemon's proof, the reply)

/// <summary>Opens a command: the CLI's fresh nonce.</summary>
public sealed record Hello(string ClientNonce);

/// <summary>The gateway's answer to <see cref="Hello"/>: its own nonce, and its proof that it holds the token.</summary>
public sealed record Challenge(string ClientNonce, string DaemonNonce, string Proof);

/// <summary>
/// The command, as the JSON text its proof covers (see <see cref="RemoteSerializer.CommandText"/>);
/// progress lines go to <see cref="ProgressTo"/>, the path of an actor of the client (covered by the proof too).
/// </summary>
public sealed record DaemonRequest(string DaemonNonce, string Proof, string CommandText, string? ProgressTo);

/// <summary>The reply, as the JSON text its proof covers (see <see cref="RemoteSerializer.ReplyText"/>).</summary>
public sealed record SignedReply(string DaemonNonce, string Proof, string ReplyText);
