namespace BtwBackup.Config;

/// <summary>
/// A structural check of a HOCON text before it is parsed. Akka's parser is lenient (an
/// unclosed brace or a key without a value parse without a word), which would let a typo in
/// btw-backup.conf silently drop settings, and it can loop without end, growing, on some
/// inputs (<c>x = [a = 1]</c>). This check names the line of the first problem: unterminated
/// strings, unbalanced braces, a key without a separator or value, and every HOCON feature no
/// btw-backup file needs (arrays, includes, substitutions, <c>+=</c>, triple-quoted strings),
/// so that only the small, well-trodden subset reaches the parser. It also records the line
/// of every key, for the messages about a setting.
/// </summary>
public static class HoconSyntax
{
    /// <summary>The largest file read: a btw-backup file is a few kilobytes.</summary>
    public const int MaxLength = 256 * 1024;

    public sealed record Problem(int Line, string Message);

    /// <summary>What the scan found: the first problem, else null; and the line of each key path (dotted, as written).</summary>
    public sealed record Scan(Problem? Problem, IReadOnlyDictionary<string, int> KeyLines);

    public static Problem? Check(string text) => Run(text).Problem;

    public static Scan Run(string text)
    {
        if (text.Length > MaxLength)
            return new Scan(new Problem(1, $"the file is larger than {MaxLength / 1024} KiB; a btw-backup configuration is a few lines"), new Dictionary<string, int>());
        return new Scanner(text).Run();
    }

    private sealed class Scanner(string text)
    {
        private readonly Stack<(char Open, int Line)> _open = new();
        private readonly Stack<string> _prefix = new();
        private readonly Dictionary<string, int> _keys = new(StringComparer.Ordinal);
        private int _pos;
        private int _line = 1;

        public Scan Run()
        {
            try
            {
                _prefix.Push("");
                Object(topLevel: true);
                return new Scan(null, _keys);
            }
            catch (SyntaxError e)
            {
                return new Scan(new Problem(e.Line, e.Message), _keys);
            }
        }

        private char Peek => _pos < text.Length ? text[_pos] : '\0';

        private bool AtEnd => _pos >= text.Length;

        private void Object(bool topLevel)
        {
            while (true)
            {
                SkipBlank(newlines: true, commas: true);
                if (AtEnd)
                {
                    if (!topLevel)
                        throw Error(_open.Peek().Line, "'{' is never closed");
                    return;
                }

                if (Peek == '}')
                {
                    if (topLevel)
                        throw Error(_line, "'}' closes nothing");
                    _pos++;
                    _open.Pop();
                    return;
                }

                var keyLine = _line;
                var key = Key();
                if (key == "include")
                    throw Error(keyLine, "include is not supported: write the settings in this file");

                var full = _prefix.Peek() + KeyPath(key);
                _keys[full] = keyLine; // the last one written wins, in HOCON and in the messages
                SkipBlank(newlines: false, commas: false);
                if (Peek == '{')
                {
                    Open('{');
                    _prefix.Push(full + ".");
                    Object(topLevel: false);
                    _prefix.Pop();
                    NoCommaAfterBlock(key);
                    continue;
                }

                if (Peek is '=' or ':')
                    _pos++;
                else if (Peek == '+' && _pos + 1 < text.Length && text[_pos + 1] == '=')
                    throw Error(keyLine, $"'+=' is not supported (after the key '{key}'): write the whole value");
                else
                    throw Error(keyLine, $"expected '=', ':' or '{{' after the key '{key}'");

                Value(keyLine, key, full);
            }
        }

        /// <summary>Akka's parser stops on a comma after a block (<c>a { } , b = 1</c>): said here, with the line.</summary>
        private void NoCommaAfterBlock(string key)
        {
            SkipBlank(newlines: false, commas: false);
            if (Peek == ',')
                throw Error(_line, $"a comma after the block of '{key}': put what follows on its own line");
        }

        /// <summary>A key as written (<c>a.b</c>, <c>"a".b</c>) as a dotted path, quotes removed.</summary>
        private static string KeyPath(string key)
        {
            var parts = new List<string>();
            var current = new System.Text.StringBuilder();
            var quoted = false;
            for (var i = 0; i < key.Length; i++)
            {
                var c = key[i];
                if (c == '"')
                    quoted = !quoted;
                else if (c == '\\' && quoted && i + 1 < key.Length)
                    current.Append(key[++i]);
                else if (c == '.' && !quoted)
                {
                    parts.Add(current.ToString().Trim());
                    current.Clear();
                }
                else
                    current.Append(c);
            }

            parts.Add(current.ToString().Trim());
            return string.Join('.', parts);
        }

        private string Key()
        {
            var start = _pos;
            while (!AtEnd)
            {
                var c = Peek;
                if (c == '"')
                {
                    String();
                    continue;
                }

                if (char.IsWhiteSpace(c) || c is '=' or ':' or '{' or '}' or '[' or ']' or ',' or '#' or '+' or '$'
                    || (c == '/' && _pos + 1 < text.Length && text[_pos + 1] == '/'))
                    break;
                if (char.IsControl(c))
                    throw Error(_line, $"a control character (U+{(int)c:X4}) in a key");
                _pos++;
            }

            if (_pos == start)
            {
                if (Peek == '[')
                    throw Error(_line, "arrays are not supported: no setting takes a list");
                throw Error(_line, $"expected a key, found '{Printable(Peek)}'");
            }

            if (text[start.._pos].Split('.').Any(p => p.Length == 0))
                throw Error(_line, $"the key '{text[start.._pos]}' has an empty part");
            return text[start.._pos];
        }

        /// <summary>What HOCON forbids in an unquoted value (besides the separators handled above); Akka's parser is lenient about some and reads them wrongly.</summary>
        private static readonly HashSet<char> Forbidden = ['$', '{', ':', '=', '+', '`', '^', '?', '!', '@', '*', '&', '\\', '[', ']'];

        private static string Printable(char c) => char.IsControl(c) ? $"U+{(int)c:X4}" : c.ToString();

        /// <summary>A value: concatenated strings, objects, arrays and substitutions, up to the end of the line, a comma or a closer.</summary>
        private void Value(int keyLine, string key, string full)
        {
            SkipBlank(newlines: false, commas: false);
            var any = false;
            while (!AtEnd)
            {
                var c = Peek;
                if (c is '\n' or ',' or '}' or ']' || IsComment())
                    break;
                var first = !any;
                any = true;
                if (c == '{')
                {
                    if (!first)
                        throw Error(_line, $"the value of '{key}' mixes text and a block {{ }}");
                    Open('{');
                    _prefix.Push(full + ".");
                    Object(topLevel: false);
                    _prefix.Pop();
                    NoCommaAfterBlock(key);
                    if (!AtEnd && !(Peek is '\n' or '}' || IsComment()))
                        throw Error(_line, $"the value of '{key}' mixes a block {{ }} and text");
                    return;
                }

                if (c == '[')
                    throw Error(_line, $"arrays are not supported (the value of '{key}'): no setting takes a list");
                if (c == '$' && _pos + 1 < text.Length && text[_pos + 1] == '{')
                    throw Error(_line, "substitutions (${...}) are not supported: write the value itself");
                if (c == '"')
                {
                    String();
                }
                else if (Forbidden.Contains(c))
                {
                    throw Error(_line, $"'{c}' outside quotes in the value of '{key}': put the value in quotes (\"...\")");
                }
                else if (char.IsControl(c) && c != '\t' && c != '\r')
                {
                    throw Error(_line, $"a control character (U+{(int)c:X4}) in the value of '{key}'");
                }
                else
                {
                    _pos++;
                }
            }

            if (!any)
                throw Error(keyLine, $"the key '{key}' has no value");
        }

        private void String()
        {
            var line = _line;
            if (string.CompareOrdinal(text, _pos, "\"\"\"", 0, 3) == 0)
                throw Error(line, "triple-quoted strings are not supported: write the value on one line");

            _pos++;
            while (!AtEnd && Peek != '"')
            {
                if (Peek == '\n')
                    throw Error(line, "string is never closed on its line");
                if (Peek == '\\')
                {
                    _pos++;
                    if (AtEnd || Peek == '\n')
                        throw Error(line, "string is never closed on its line");
                }

                _pos++;
            }

            if (AtEnd)
                throw Error(line, "string is never closed");
            _pos++;
        }

        private void Open(char c)
        {
            _open.Push((c, _line));
            _pos++;
        }

        private bool IsComment() => Peek == '#' || (Peek == '/' && _pos + 1 < text.Length && text[_pos + 1] == '/');

        private void SkipBlank(bool newlines, bool commas)
        {
            while (!AtEnd)
            {
                var c = Peek;
                if (IsComment())
                {
                    SkipToLineEnd();
                }
                else if (c == '\n')
                {
                    if (!newlines) return;
                    _line++;
                    _pos++;
                }
                else if (char.IsWhiteSpace(c) || (commas && c == ','))
                {
                    _pos++;
                }
                else
                {
                    return;
                }
            }
        }

        private void SkipToLineEnd()
        {
            while (!AtEnd && Peek != '\n')
                _pos++;
        }

        private static SyntaxError Error(int line, string message) => new(line, message);
    }

    private sealed class SyntaxError(int line, string message) : Exception(message)
    {
        public int Line { get; } = line;
    }
}
