using BtwBackup.Protocol;
using Xunit;

namespace BtwBackup.Tests.Cli;

public sealed class TerminalTextTests
{
    [Theory]
    [InlineData("www/index.html", "www/index.html")]
    [InlineData("a\tb", "a\tb")]
    [InlineData("evil\u001b]0;pwned\u0007.txt", @"evil\x1b]0;pwned\x07.txt")]
    [InlineData("line\rover", @"line\x0dover")]
    [InlineData("two\nlines", @"two\x0alines")]
    [InlineData("c1\u009bcsi", @"c1\x9bcsi")]
    [InlineData("txt.\u202eexe", @"txt.\x202eexe")]
    public void Control_characters_are_shown_not_obeyed(string text, string expected) =>
        Assert.Equal(expected, TerminalText.Printable(text));

    [Fact]
    public void A_reply_spanning_lines_keeps_its_line_breaks_and_loses_the_rest()
    {
        var json = "{\n  \"key\": \"a\u001b[2Jb\"\r\n}";
        var shown = TerminalText.PrintableLines(json);
        Assert.Equal("{\n  \"key\": \"a\\x1b[2Jb\"\\x0d\n}", shown);
        Assert.Equal(3, shown.Split('\n').Length);
    }

    [Theory]
    [InlineData("k1 AGE-SECRET-KEY-1ABC9, k2 age-secret-key-1xyz.", "k1 {0}, k2 {0}.")]
    [InlineData("AGE-SECRET-KEY-1", "AGE-SECRET-KEY-1")]
    [InlineData("AGE-SECRET-KEY-1 AGE-SECRET-KEY-1Q", "AGE-SECRET-KEY-1 {0}")]
    [InlineData("AGE-SECRET-KEY-2ABC", "AGE-SECRET-KEY-2ABC")]
    public void Each_age_secret_key_is_replaced_up_to_its_last_letter_or_digit(string text, string expected) =>
        Assert.Equal(string.Format(System.Globalization.CultureInfo.InvariantCulture, expected, TerminalText.Redacted), TerminalText.Printable(text));

    [Fact]
    public void An_age_secret_key_never_shows_in_any_case()
    {
        var secret = BtwBackup.Crypto.AgeIdentity.Generate().Secret;
        // Pasted twice with nothing between, or after its own prefix: the first key's letters run into the second's prefix.
        foreach (var text in new[] { $"btw-backup.conf:4: malformed HOCON: after the key '{secret}'", secret.ToLowerInvariant() + " = 1", $"a\n{secret}\n",
                     secret + secret, "AGE-SECRET-KEY-1" + secret, secret.ToLowerInvariant() + secret + "x" + secret })
        {
            var shown = TerminalText.PrintableLines(text);
            Assert.DoesNotContain(secret[16..], shown, StringComparison.OrdinalIgnoreCase);
            Assert.Contains(TerminalText.Redacted, shown);
        }
    }
}
