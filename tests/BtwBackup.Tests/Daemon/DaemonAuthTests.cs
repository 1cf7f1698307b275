using BtwBackup.Daemon;
using Xunit;

namespace BtwBackup.Tests.Daemon;

public sealed class DaemonAuthTests
{
    private static readonly string A = new('a', 64), B = new('b', 64);

    [Fact]
    public void A_proof_needs_the_token_and_is_bound_to_its_nonces()
    {
        var auth = new DaemonAuth("token");
        Assert.Equal(auth.DaemonProof(A, B), new DaemonAuth("token").DaemonProof(A, B));
        Assert.NotEqual(auth.DaemonProof(A, B), new DaemonAuth("other").DaemonProof(A, B));
        Assert.NotEqual(auth.DaemonProof(A, B), auth.DaemonProof(B, A));
    }

    [Fact]
    public void A_sealed_text_opens_only_with_the_token_both_nonces_its_way_its_number_and_its_binding()
    {
        var session = new DaemonAuth("token").Session(A, B);
        var sealedText = session.Seal(SealedWay.Request, 0, "{\"command\":\"sync\"}", "akka.tcp://c@h:1/user/p");
        Assert.DoesNotContain("sync", sealedText, StringComparison.Ordinal);
        Assert.Equal("{\"command\":\"sync\"}", new DaemonAuth("token").Session(A, B).Open(SealedWay.Request, 0, sealedText, "akka.tcp://c@h:1/user/p"));

        Assert.Null(new DaemonAuth("other").Session(A, B).Open(SealedWay.Request, 0, sealedText, "akka.tcp://c@h:1/user/p"));
        Assert.Null(new DaemonAuth("token").Session(B, A).Open(SealedWay.Request, 0, sealedText, "akka.tcp://c@h:1/user/p"));
        // Reflected as a reply, moved to another number, or bound to another progress actor: refused.
        Assert.Null(session.Open(SealedWay.Reply, 0, sealedText, "akka.tcp://c@h:1/user/p"));
        Assert.Null(session.Open(SealedWay.Request, 1, sealedText, "akka.tcp://c@h:1/user/p"));
        Assert.Null(session.Open(SealedWay.Request, 0, sealedText, "akka.tcp://c@h:1/user/q"));
        // Altered, truncated, or not base64 at all.
        var bytes = Convert.FromBase64String(sealedText);
        bytes[3] ^= 1;
        Assert.Null(session.Open(SealedWay.Request, 0, Convert.ToBase64String(bytes), "akka.tcp://c@h:1/user/p"));
        Assert.Null(session.Open(SealedWay.Request, 0, sealedText[..8], "akka.tcp://c@h:1/user/p"));
        Assert.Null(session.Open(SealedWay.Request, 0, "not base64!", ""));
        Assert.Null(session.Open(SealedWay.Request, 0, null, ""));
    }

    [Theory]
    [InlineData("", false)]
    [InlineData("not a nonce", false)]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", false)]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true)]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", false)]
    public void Only_what_NewNonce_makes_is_a_nonce(string text, bool expected)
    {
        Assert.Equal(expected, DaemonAuth.IsNonce(text));
        Assert.True(DaemonAuth.IsNonce(DaemonAuth.NewNonce()));
        Assert.NotEqual(DaemonAuth.NewNonce(), DaemonAuth.NewNonce());
    }

    /// <summary>Loopback is decided by the address, the default's shortcut included: never by a name that merely starts like one.</summary>
    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("localhost", true)]
    [InlineData("127.0.0.2", true)]
    [InlineData("::1", true)]
    [InlineData("[::1]", true)]
    [InlineData("0.0.0.0", false)]
    [InlineData("10.0.0.1", false)]
    [InlineData("127.0.0.1.example.com", false)]
    [InlineData("localhost.example.com", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Loopback_is_decided_by_the_address(string? host, bool loopback) => Assert.Equal(loopback, Gateway.IsLoopback(host));
}
