using System.Globalization;
using System.Text.RegularExpressions;

namespace BtwBackup.Config;

/// <summary>
/// Parses the durations the original accepted through pytimeparse (<c>0s</c>, <c>90m</c>,
/// <c>24h</c>, <c>7d</c>, <c>1h30m</c>, <c>2 weeks</c>, <c>1:30:00</c>, a bare number of
/// seconds) and HOCON's own (<c>24 hours</c>).
/// </summary>
public static partial class Durations
{
    [GeneratedRegex(@"^(?:(?<h>\d+):)?(?<m>\d+):(?<s>\d+(?:\.\d+)?)$")]
    private static partial Regex Clock();

    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        var s = text.Trim();
        if (s.Length == 0)
            return false;

        if (double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var bare))
            return FromSeconds(bare, out duration);

        var clock = Clock().Match(s);
        if (clock.Success)
        {
            var h = clock.Groups["h"].Success ? double.Parse(clock.Groups["h"].Value, CultureInfo.InvariantCulture) : 0;
            return FromSeconds(h * 3600
                + double.Parse(clock.Groups["m"].Value, CultureInfo.InvariantCulture) * 60
                + double.Parse(clock.Groups["s"].Value, CultureInfo.InvariantCulture), out duration);
        }

        // Parts of the form "<number> <unit>", optionally separated by spaces or a comma ("1h 30m", "2 weeks, 3 days").
        var total = 0.0;
        var pos = 0;
        while (pos < s.Length)
        {
            if (!TryPart(s, ref pos, out var seconds))
                return false;
            total += seconds;
        }

        return FromSeconds(total, out duration);
    }

    /// <summary>
    /// One part at <paramref name="pos"/>: spaces, ASCII digits with an optional decimal part,
    /// spaces, a unit of ASCII letters, spaces and an optional comma. Written out rather than as
    /// a generated regex: the first generated regex of a process builds the search tables of
    /// every one in the assembly (about 10 ms of every command's start).
    /// </summary>
    private static bool TryPart(string s, ref int pos, out double seconds)
    {
        seconds = 0;
        var i = SkipSpaces(s, pos);
        var numberStart = i;
        i = SkipDigits(s, i);
        if (i == numberStart)
            return false;
        if (i + 1 < s.Length && s[i] == '.' && char.IsAsciiDigit(s[i + 1]))
            i = SkipDigits(s, i + 1);
        var number = double.Parse(s.AsSpan(numberStart, i - numberStart), CultureInfo.InvariantCulture);
        i = SkipSpaces(s, i);
        var unitStart = i;
        while (i < s.Length && char.IsAsciiLetter(s[i]))
            i++;
        if (i == unitStart || UnitSeconds(s[unitStart..i].ToLowerInvariant()) is not { } unit)
            return false;
        i = SkipSpaces(s, i);
        if (i < s.Length && s[i] == ',')
            i++;
        seconds = number * unit;
        pos = i;
        return true;
    }

    private static int SkipSpaces(string s, int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i]))
            i++;
        return i;
    }

    private static int SkipDigits(string s, int i)
    {
        while (i < s.Length && char.IsAsciiDigit(s[i]))
            i++;
        return i;
    }

    /// <summary>
    /// The longest duration read: a hundred years. Past it (or for a number too large to be a
    /// number) the text is no duration, instead of an overflow; readers apply their own, smaller bounds.
    /// </summary>
    public static readonly TimeSpan Longest = TimeSpan.FromDays(36525);

    private static bool FromSeconds(double seconds, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (!double.IsFinite(seconds) || seconds < 0 || seconds > Longest.TotalSeconds)
            return false;
        duration = TimeSpan.FromSeconds(seconds);
        return true;
    }

    public static TimeSpan Parse(string text) =>
        TryParse(text, out var d)
            ? d
            : throw new FormatException($"not a duration: '{text}' (examples: 0s, 90m, 24h, 7d)");

    private static double? UnitSeconds(string unit) => unit switch
    {
        "s" or "sec" or "secs" or "second" or "seconds" => 1,
        "m" or "min" or "mins" or "minute" or "minutes" => 60,
        "h" or "hr" or "hrs" or "hour" or "hours" => 3600,
        "d" or "day" or "days" => 86400,
        "w" or "wk" or "wks" or "week" or "weeks" => 7 * 86400,
        _ => null,
    };

    /// <summary>The short form used in files this tool writes: <c>24h</c>, <c>90m</c>, <c>7d</c>.</summary>
    public static string Format(TimeSpan d)
    {
        var seconds = (long)d.TotalSeconds;
        if (seconds != 0 && seconds % 86400 == 0) return $"{seconds / 86400}d";
        if (seconds != 0 && seconds % 3600 == 0) return $"{seconds / 3600}h";
        if (seconds != 0 && seconds % 60 == 0) return $"{seconds / 60}m";
        return $"{seconds}s";
    }
}
