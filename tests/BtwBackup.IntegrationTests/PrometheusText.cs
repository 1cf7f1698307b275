using System.Globalization;
using System.Text.RegularExpressions;

namespace BtwBackup.IntegrationTests;

/// <summary>One sample of a scrape: a metric name, its labels, its value.</summary>
public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>
/// Prometheus' text exposition format (version 0.0.4), read by its grammar: # HELP and # TYPE
/// lines, then samples <c>name{label="value",...} value [timestamp]</c> with escaped label values.
/// Anything else is a format error, thrown: a scrape Prometheus would refuse fails the test.
/// </summary>
public static partial class PrometheusText
{
    public static (IReadOnlyList<Sample> Samples, IReadOnlyDictionary<string, string> Types) Parse(string text)
    {
        var samples = new List<Sample>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
                continue;
            if (line.StartsWith('#'))
            {
                var meta = Meta().Match(line);
                if (meta.Success && meta.Groups[1].Value == "TYPE")
                {
                    var type = meta.Groups[3].Value.Trim();
                    if (type is not ("counter" or "gauge" or "histogram" or "summary" or "untyped"))
                        throw new FormatException("unknown type: " + line);
                    if (!types.TryAdd(meta.Groups[2].Value, type))
                        throw new FormatException("a second TYPE line: " + line);
                }

                continue;
            }

            var m = SampleLine().Match(line);
            if (!m.Success)
                throw new FormatException("not a sample: " + line);
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (m.Groups[2].Success)
            {
                var body = m.Groups[2].Value;
                var at = 0;
                while (at < body.Length)
                {
                    var label = Label().Match(body, at);
                    if (!label.Success || label.Index != at)
                        throw new FormatException("bad labels: " + line);
                    labels.Add(label.Groups[1].Value, Unescape(label.Groups[2].Value));
                    at += label.Length;
                }
            }

            var value = m.Groups[3].Value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                var v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
            samples.Add(new Sample(m.Groups[1].Value, labels, value));
        }

        return (samples, types);
    }

    private static string Unescape(string value) =>
        Regex.Replace(value, @"\\(.)", e => e.Groups[1].Value switch { "n" => "\n", var c => c });

    [GeneratedRegex(@"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$")]
    private static partial Regex Meta();

    [GeneratedRegex(@"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([-+0-9.eE]+|[+-]Inf|NaN)(?: -?[0-9]+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)"",?")]
    private static partial Regex Label();
}
