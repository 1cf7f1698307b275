using System.Globalization;
using System.Text;

namespace BtwBackup.Protocol;

/// <summary>
/// Text for a person's terminal. Lines may carry names from outside (S3 keys, archive members,
/// file names, and progress lines that any local process can send to the CLI's client): a
/// control character in them could move the cursor, rewrite what was printed or retitle the
/// window. Each one is shown as <c>\xNN</c> instead. And an age secret key never shows, wherever
/// it came from (pasted into btw-backup.conf by mistake, then quoted by an error): every line a
/// person or the log sees passes here.
/// </summary>
public static class TerminalText
{
    public const string Redacted = "AGE-SECRET-KEY-1...(a secret key, never shown)";

    private const string SecretKeyPrefix = "AGE-SECRET-KEY-1";

    public static string Printable(string text)
    {
        if (text.Contains(SecretKeyPrefix, StringComparison.OrdinalIgnoreCase))
            text = WithoutSecretKeys(text);
        if (!text.Any(IsControl))
            return text;
        var safe = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (IsControl(c))
                safe.Append(@"\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else
                safe.Append(c);
        }

        return safe.ToString();
    }

    /// <summary>
    /// A reply's text, which may span lines (a <c>--json</c> document is one indented block):
    /// its line breaks stay, every other control character is shown as <c>\xNN</c>.
    /// </summary>
    public static string PrintableLines(string text) =>
        text.Contains('\n') ? string.Join('\n', text.Split('\n').Select(Printable)) : Printable(text);

    /// <summary>
    /// Every "AGE-SECRET-KEY-1" followed by at least one ASCII letter or digit (any case: age
    /// writes it upper case, a person may not), replaced with <see cref="Redacted"/> up to the
    /// first other character; a key that another one runs into (pasted twice, no space between)
    /// goes with it, to the end of the last.
    /// </summary>
    private static string WithoutSecretKeys(string text)
    {
        var shown = new StringBuilder(text.Length);
        var pos = 0;
        int at;
        while ((at = text.IndexOf(SecretKeyPrefix, pos, StringComparison.OrdinalIgnoreCase)) >= 0)
        {
            var end = at + SecretKeyPrefix.Length;
            for (var from = at; ;)
            {
                while (end < text.Length && char.IsAsciiLetterOrDigit(text[end]))
                    end++;
                // A prefix that starts inside this run (its "AGE" read as the key's letters) continues it.
                var next = text.IndexOf(SecretKeyPrefix, from + 1, StringComparison.OrdinalIgnoreCase);
                if (next < 0 || next >= end)
                    break;
                from = next;
                end = Math.Max(end, next + SecretKeyPrefix.Length);
            }

            if (end == at + SecretKeyPrefix.Length)
            {
                shown.Append(text, pos, end - pos);
            }
            else
            {
                shown.Append(text, pos, at - pos).Append(Redacted);
            }

            pos = end;
        }

        return shown.Append(text, pos, text.Length - pos).ToString();
    }

    private static bool IsControl(char c) => c != '\t' && (char.IsControl(c) || c is '\u2028' or '\u2029' or '\u202e' or '\u202d');
}
