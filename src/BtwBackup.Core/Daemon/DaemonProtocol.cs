namespace BtwBackup.Daemon;

// The only messages that cross the CLI's door (see hocon/remoting.conf): nothing else arriving
// from the wire is deserialized. A command goes in three steps, and neither side ever sends the
// token (see DaemonAuth):
//   CLI -> gateway   Hello(client nonce)
//   gateway -> CLI   Challenge(both nonces, the daemon's proof)      the CLI checks it, or waits
//   CLI -> gateway   DaemonRequest(both nonces, the command sealed)  the gateway opens it, or refuses
//   gateway -> CLI   SealedProgress(n, a progress line or a keepalive sealed), ...,
//                    SealedReply(part i of n of the reply, sealed), ...
// Sealed: AES-GCM under a key of this exchange alone (DaemonSession), so that a local process
// that slips into the connection can read, forge or replay none of it.

/// <summary>Opens a command: the CLI's fresh nonce.</summary>
public sealed record Hello(string ClientNonce);

/// <summary>The gateway's answer to <see cref="Hello"/>: its own nonce, and its proof that it holds the token.</summary>
public sealed record Challenge(string ClientNonce, string DaemonNonce, string Proof);

/// <summary>
/// The command (the JSON of <see cref="RemoteSerializer.CommandText"/>), sealed; whether the
/// client shows progress lines is bound to the seal too. Everything the daemon sends back goes to
/// the sender of the request.
/// </summary>
public sealed record DaemonRequest(string ClientNonce, string DaemonNonce, bool Progress, string Sealed);

/// <summary>
/// One progress line of the command (the JSON of a ProgressReport), sealed, numbered from 0; an
/// empty line is a keepalive, sent every few seconds while the command runs.
/// </summary>
public sealed record SealedProgress(string DaemonNonce, ulong Sequence, string Sealed);

/// <summary>
/// Part <see cref="Part"/> (from 0) of the <see cref="Parts"/> parts of the reply (the JSON of
/// <see cref="RemoteSerializer.ReplyText"/>), sealed: a long listing crosses in frames the door's
/// small frame size allows.
/// </summary>
public sealed record SealedReply(string DaemonNonce, int Part, int Parts, string Sealed);
