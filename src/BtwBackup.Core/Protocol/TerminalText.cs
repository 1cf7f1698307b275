using System.Globalization;
using System.Text;

namespace BtwBackup.Protocol;

/// <summary>
/// Text for a person's terminal. Lines may carry names from outside (S3 keys, archive members,
/// file names, and progress lines that any local process can send to the CLI's client): a
/// control character in them could move the cursor, rewrite what was printed or retitle the
/// window. Each one is shown as <c>\xNN</c> instead.
/// </summary>
public static class TerminalText
{
    public static string Printable(string text)
    {
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

    private static bool IsControl(char c) => c != '\t' && (char.IsControl(c) || c is '\u2028' or '\u2029' or '\u202e' or '\u202d');
}
