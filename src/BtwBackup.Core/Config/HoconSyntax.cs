namespace BtwBackup.Config;

/// <summary>
/// A structural check of a HOCON text before it is parsed. Akka's parser is lenient (an
/// unclosed brace or a key without a value parse without a word), which would let a typo in
/// btw-backup.conf silently drop settings. This check names the line of the first problem:
/// unterminated strings, unbalanced braces and brackets, a key without a separator or value.
/// </summary>
public static class HoconSyntax
{
    public sealed record Problem(int Line, string Message);

    public static Problem? Check(string text) => new Scanner(text).Run();

    private sealed class Scanner(string text)
    {
        private readonly Stack<(char Open, int Line)> _open = new();
        private int _pos;
        private int _line = 1;

        public Problem? Run()
        {
            try
            {
                Object(topLevel: true);
                return null;
            }
            catch (SyntaxError e)
            {
                return new Problem(e.Line, e.Message);
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
                {
                    SkipToLineEnd();
                    continue;
                }

                SkipBlank(newlines: false, commas: false);
                if (Peek == '{')
                {
                    Open('{');
                    Object(topLevel: false);
                    continue;
                }

                if (Peek is '=' or ':')
                    _pos++;
                else if (Peek == '+' && _pos + 1 < text.Length && text[_pos + 1] == '=')
                    _pos += 2;
                else
                    throw Error(keyLine, $"expected '=', ':' or '{{' after the key '{key}'");

                Value(keyLine, key);
            }
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
                _pos++;
            }

            if (_pos == start)
                throw Error(_line, $"expected a key, found '{Peek}'");
            return text[start.._pos];
        }

        /// <summary>A value: concatenated strings, objects, arrays and substitutions, up to the end of the line, a comma or a closer.</summary>
        private void Value(int keyLine, string key)
        {
            SkipBlank(newlines: false, commas: false);
            var any = false;
            while (!AtEnd)
            {
                var c = Peek;
                if (c is '\n' or ',' or '}' or ']' || IsComment())
                    break;
                any = true;
                if (c == '{')
                {
                    Open('{');
                    Object(topLevel: false);
                }
                else if (c == '[')
                {
                    Open('[');
                    Array();
                }
                else if (c == '"')
                {
                    String();
                }
                else if (c == '$' && _pos + 1 < text.Length && text[_pos + 1] == '{')
                {
                    var line = _line;
                    var end = text.IndexOf('}', _pos);
                    if (end < 0 || text.IndexOf('\n', _pos) is var nl && nl >= 0 && nl < end)
                        throw Error(line, "'${' substitution is never closed");
                    _pos = end + 1;
                }
                else
                {
                    _pos++;
                }
            }

            if (!any)
                throw Error(keyLine, $"the key '{key}' has no value");
        }

        private void Array()
        {
            while (true)
            {
                SkipBlank(newlines: true, commas: true);
                if (AtEnd)
                    throw Error(_open.Peek().Line, "'[' is never closed");
                if (Peek == ']')
                {
                    _pos++;
                    _open.Pop();
                    return;
                }

                if (Peek == '}')
                    throw Error(_line, "'}' where ']' was expected");
                Value(_line, "[array element]");
            }
        }

        private void String()
        {
            var line = _line;
            if (string.CompareOrdinal(text, _pos, "\"\"\"", 0, 3) == 0)
            {
                var end = text.IndexOf("\"\"\"", _pos + 3, StringComparison.Ordinal);
                if (end < 0)
                    throw Error(line, "'\"\"\"' string is never closed");
                _line += text.AsSpan(_pos, end - _pos).Count('\n');
                _pos = end + 3;
                return;
            }

            _pos++;
            while (!AtEnd && Peek != '"')
            {
                if (Peek == '\n')
                    throw Error(line, "string is never closed on its line");
                if (Peek == '\\')
                    _pos++;
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
