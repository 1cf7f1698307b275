using BtwBackup.Config;
using Xunit;

namespace BtwBackup.Tests.Config;

public class DurationsTests
{
    [Theory]
    [InlineData("0s", 0)]
    [InlineData("90m", 90 * 60)]
    [InlineData("24h", 24 * 3600)]
    [InlineData("7d", 7 * 86400)]
    [InlineData("1h30m", 5400)]
    [InlineData("1h 30m", 5400)]
    [InlineData("2 weeks", 14 * 86400)]
    [InlineData("24 hours", 86400)]
    [InlineData("3600", 3600)]
    [InlineData("1:30:00", 5400)]
    [InlineData("10:00", 600)]
    [InlineData("1.5h", 5400)]
    [InlineData("1H30M", 5400)]
    [InlineData("1.5 hours", 5400)]
    [InlineData("2 weeks, 3 days", 17 * 86400)]
    [InlineData("1h,30m,", 5400)]
    [InlineData(" 1 h 30 m 15 s ", 5415)]
    public void Parses(string text, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), Durations.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("5 parsecs")]
    [InlineData("h")]
    [InlineData("-5s")]
    [InlineData("1h,,")]
    [InlineData("1.h")]
    [InlineData(".5h")]
    [InlineData("1h30")]
    [InlineData("\u0663h")] // an Arabic-Indic digit: not a number here, rather than an exception
    [InlineData("1h 2 parsecs")]
    public void Refuses(string text) => Assert.False(Durations.TryParse(text, out _));

    /// <summary>A number too large for a double, or a sum beyond the longest duration: refused, never an exception.</summary>
    [Fact]
    public void Refuses_what_no_duration_holds()
    {
        Assert.False(Durations.TryParse(new string('9', 400) + "s", out _));
        Assert.False(Durations.TryParse("1" + new string('0', 30) + " weeks", out _));
        Assert.False(Durations.TryParse(string.Concat(Enumerable.Repeat("9999999999 weeks ", 50)), out _));
    }

    [Theory]
    [InlineData(86400, "1d")]
    [InlineData(7200, "2h")]
    [InlineData(5400, "90m")]
    [InlineData(0, "0s")]
    [InlineData(61, "61s")]
    public void Formats_in_the_short_form_and_parses_back(int seconds, string text)
    {
        Assert.Equal(text, Durations.Format(TimeSpan.FromSeconds(seconds)));
        Assert.Equal(TimeSpan.FromSeconds(seconds), Durations.Parse(text));
    }
}
