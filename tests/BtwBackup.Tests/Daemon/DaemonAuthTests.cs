using BtwBackup.Daemon;
using Xunit;

namespace BtwBackup.Tests.Daemon;

public sealed class DaemonAuthTests
{
    private static readonly string A = new('a', 64), B = new('b', 64);

    [Fact]
    public void A_proof_needs_the_token_and_is_bound_to_its_nonces_and_text()
    {
        var auth = new DaemonAuth("token");
        Assert.Equal(auth.DaemonProof(A, B), new DaemonAuth("token").DaemonProof(A, B));
        Assert.NotEqual(auth.DaemonProof(A, B), new DaemonAuth("other").DaemonProof(A, B));
        Assert.NotEqual(auth.DaemonProof(A, B), auth.DaemonProof(B, A));
        Assert.NotEqual(auth.RequestProof(A, B, "{\"command\":\"sync\"}", null), auth.RequestProof(A, B, "{\"command\":\"run\"}", null));
        Assert.NotEqual(auth.RequestProof(A, B, "x", "akka.tcp://a@h:1/user/p"), auth.RequestProof(A, B, "x", "akka.tcp://a@h:1/user/q"));
    }

    [Fact]
    public void No_proof_can_stand_for_another_kind()
    {
        var auth = new DaemonAuth("token");
        // The daemon's challenge proof, a reply proof and a request proof over the same nonces all differ,
        // so an intruder cannot reflect the daemon's own proof back at it as a request.
        var proofs = new[] { auth.DaemonProof(A, B), auth.ReplyProof(A, B, ""), auth.RequestProof(A, B, "", null) };
        Assert.Equal(3, proofs.Distinct().Count());
        // Parts are length-prefixed: moving a boundary changes the proof.
        Assert.NotEqual(auth.RequestProof(A, B, "xy", "z"), auth.RequestProof(A, B, "y", "zx"));
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
}
