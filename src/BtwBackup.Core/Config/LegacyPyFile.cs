using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace BtwBackup.Config;

/// <summary>A value read from a legacy <c>.py</c> file: a string, an integer, a boolean or None.</summary>
public abstract record PyValue
{
    public sealed record Str(string Value) : PyValue;
    public sealed record Int(long Value) : PyValue;
    public sealed record Bool(bool Value) : PyValue;
    public sealed record None : PyValue;
}

/// <summary>
/// Reads the original's <c>config.py</c> files as data, never as code: lines of the form
/// <c>NAME = literal</c>, comments and blank lines. Anything else is an error naming the
/// file and the line.
/// </summary>
public static class LegacyPyFile
{
    public static ImmutableDictionary<string, PyValue> Load(string path)
    {
        string[] lines;
        try
        {
            lines = ConfigLoader.ReadBoundedLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"cannot read {path}: {ConfigException.Reason(e)}");
        }

        return Parse(lines, path);
    }

    public static ImmutableDictionary<string, PyValue> Parse(IReadOnlyList<string> lines, string path)
    {
        var result = ImmutableDictionary.CreateBuilder<string, PyValue>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;

            if (!TryAssignment(line, out var name, out var rest) || !TryLiteral(rest, out var value))
            {
                throw new ConfigException(
                    $"{path}:{i + 1}: not a setting of the form NAME = literal: legacy .py files are read as data, " +
                    "never executed; move anything else to btw-backup.conf (HOCON)");
            }

            result[name] = value;
        }

        return result.ToImmutable();
    }

    /// <summary>
    /// <c>NAME = rest</c>: a Python identifier of ASCII letters, digits and underscores (not
    /// starting with a digit), an equals sign with optional white space around it, and the rest
    /// of the line.
    /// </summary>
    private static bool TryAssignment(string line, out string name, out string rest)
    {
        name = rest = "";
        var i = 0;
        while (i < line.Length && (char.IsAsciiLetter(line[i]) || line[i] == '_' || (i > 0 && char.IsAsciiDigit(line[i]))))
            i++;
        if (i == 0)
            return false;
        name = line[..i];
        while (i < line.Length && char.IsWhiteSpace(line[i]))
            i++;
        if (i == line.Length || line[i] != '=')
            return false;
        i++;
        while (i < line.Length && char.IsWhiteSpace(line[i]))
            i++;
        rest = line[i..];
        return !rest.Contains('\n');
    }

    private static bool TryLiteral(string text, out PyValue value)
    {
        value = new PyValue.None();
        var s = text.TrimEnd();
        var pos = 0;

        if (s.StartsWith("True", StringComparison.Ordinal)) { value = new PyValue.Bool(true); pos = 4; }
        else if (s.StartsWith("False", StringComparison.Ordinal)) { value = new PyValue.Bool(false); pos = 5; }
        else if (s.StartsWith("None", StringComparison.Ordinal)) { value = new PyValue.None(); pos = 4; }
        else if (s.Length > 0 && (char.IsDigit(s[0]) || s[0] == '-' || s[0] == '+'))
        {
            var end = 1;
            while (end < s.Length && (char.IsDigit(s[end]) || s[end] == '_'))
                end++;
            var digits = s[..end].Replace("_", "", StringComparison.Ordinal);
            if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
                return false;
            value = new PyValue.Int(n);
            pos = end;
        }
        else if (!TryString(s, ref pos, out value))
        {
            return false;
        }

        // Only a comment may follow the literal.
        var rest = s[pos..].TrimStart();
        return rest.Length == 0 || rest.StartsWith('#');
    }

    private static bool TryString(string s, ref int pos, out PyValue value)
    {
        value = new PyValue.None();
        var raw = false;
        while (pos < s.Length && "uUrRbB".Contains(s[pos]))
        {
            raw |= s[pos] is 'r' or 'R';
            pos++;
            if (pos > 2) return false;
        }

        if (pos >= s.Length || (s[pos] != '"' && s[pos] != '\''))
            return false;
        var quote = s[pos++];
        var sb = new StringBuilder();
        while (pos < s.Length && s[pos] != quote)
        {
            var c = s[pos++];
            if (c == '\\' && !raw && pos < s.Length)
            {
                var e = s[pos++];
                sb.Append(e switch
                {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    _ => e,
                });
            }
            else if (c == '\\' && raw && pos < s.Length)
            {
                sb.Append(c).Append(s[pos++]);
            }
            else
            {
                sb.Append(c);
            }
        }

        if (pos >= s.Length)
            return false; // unterminated
        pos++;
        value = new PyValue.Str(sb.ToString());
        return true;
    }
}
