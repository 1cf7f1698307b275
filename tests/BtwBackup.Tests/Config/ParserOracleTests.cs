using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using BtwBackup.Backup;
using BtwBackup.Config;
using Xunit;

namespace BtwBackup.Tests.Config;

/// <summary>
/// The hand-written parsers that replaced generated regexes (for the start-up time), against
/// those very regexes on many random texts of the characters that matter: they must agree.
/// </summary>
public sealed class ParserOracleTests
{
    private static string RandomText(Random random, string alphabet, int maxLength)
    {
        var text = new StringBuilder();
        for (int i = 0, n = random.Next(maxLength + 1); i < n; i++)
            text.Append(alphabet[random.Next(alphabet.Length)]);
        return text.ToString();
    }

    /// <summary>
    /// Durations.TryParse as it was: what the commit did not touch (a bare number, h:m:s, the
    /// table of units) is asked of the parser itself; the parts are matched by the old regex.
    /// </summary>
    private static bool OldDuration(string text, out TimeSpan duration)
    {
        var s = text.Trim();
        if (s.Length == 0 || double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out _)
            || Regex.IsMatch(s, @"^(?:(?<h>\d+):)?(?<m>\d+):(?<s>\d+(?:\.\d+)?)$"))
            return Durations.TryParse(text, out duration);
        duration = TimeSpan.Zero;
        var part = new Regex(@"\G\s*(?<n>\d+(?:\.\d+)?)\s*(?<u>[a-z]+)\s*,?", RegexOptions.IgnoreCase);
        var total = 0.0;
        for (var pos = 0; pos < s.Length;)
        {
            var m = part.Match(s, pos);
            // The unit's seconds: what "1<unit>" alone is.
            if (!m.Success || m.Length == 0 || !Durations.TryParse("1" + m.Groups["u"].Value, out var unit))
                return false;
            total += double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture) * unit.TotalSeconds;
            pos += m.Length;
        }

        if (!double.IsFinite(total) || total < 0 || total > Durations.Longest.TotalSeconds)
            return false;
        duration = TimeSpan.FromSeconds(total);
        return true;
    }

    [Fact]
    public void Durations_agree_with_the_regex_they_replaced()
    {
        var random = new Random(20261207);
        var agreed = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var text = RandomText(random, "0123456789 .,\tsmhdwSMHDWecoinrkuy:", 12);
            var expected = OldDuration(text, out var old);
            var actual = Durations.TryParse(text, out var now);
            Assert.True(expected == actual && old == now, $"'{text}': the regex said {expected} {old}, the parser {actual} {now}");
            agreed += actual ? 1 : 0;
        }

        // The texts are not all refusals: the comparison saw durations too.
        Assert.True(agreed > 1_000, $"only {agreed} durations among the texts");
    }

    [Fact]
    public void The_pid_of_a_marker_agrees_with_the_regex_it_replaced()
    {
        var random = new Random(20261208);
        var pid = new Regex(@"^PID\s*([0-9]+)", RegexOptions.Multiline | RegexOptions.IgnoreCase);
        var found = 0;
        for (var i = 0; i < 20_000; i++)
        {
            string[] tokens = ["PID", "pid", "Pid", "PI", " ", "\t", "\n", "\r\n", "42", "7", "99999999999", "x"];
            var text = string.Concat(Enumerable.Range(0, random.Next(1, 7)).Select(_ => tokens[random.Next(tokens.Length)]));
            var m = pid.Match(text);
            int? expected = m.Success && int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
            Assert.True(expected == RdiffRepository.PidIn(text), $"'{text.Replace("\n", "\\n", StringComparison.Ordinal)}': the regex said {expected}, the parser {RdiffRepository.PidIn(text)}");
            found += expected is null ? 0 : 1;
        }

        Assert.True(found > 200, $"only {found} markers with a pid among the texts");
    }
}
