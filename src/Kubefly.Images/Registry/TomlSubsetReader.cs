using System.Globalization;
using System.Text;
using Kubefly.Oci;

namespace Kubefly.Images.Registry;

/// <summary>A syntax or type error in a TOML file; the message names the file and line.</summary>
public sealed class TomlSyntaxException : KubeflyException
{
    public TomlSyntaxException(string file, int line, string message)
        : base($"{file}:{line}: {message}")
    {
        File = file;
        Line = line;
    }

    public string File { get; }

    public int Line { get; }
}

/// <summary>
/// A table of a parsed TOML document. Values are <see cref="string"/>, <see cref="bool"/>, <see cref="long"/>,
/// a list of strings, a nested <see cref="TomlTable"/>, or a list of tables (an array of tables).
/// </summary>
public sealed class TomlTable
{
    private readonly Dictionary<string, object> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _lines = new(StringComparer.Ordinal);

    internal TomlTable(int line) => Line = line;

    /// <summary>The line that opened this table (0 for the root).</summary>
    public int Line { get; }

    public IEnumerable<string> Keys => _values.Keys;

    public bool TryGetValue(string key, out object value) => _values.TryGetValue(key, out value!);

    public int LineOf(string key) => _lines.TryGetValue(key, out var line) ? line : Line;

    internal void Add(string key, object value, int line)
    {
        _values[key] = value;
        _lines[key] = line;
    }

    internal bool Contains(string key) => _values.ContainsKey(key);
}

/// <summary>
/// A strict reader for the TOML subset containers' configuration files use: <c>[table]</c>,
/// <c>[[array.of.tables]]</c>, bare or quoted keys, dotted keys, basic and literal strings with escapes,
/// booleans, integers, arrays of strings, comments. Anything else is an error naming file and line, so a
/// typo never silently turns into a default.
/// </summary>
public static class TomlSubsetReader
{
    public static TomlTable Parse(string text, string fileName) => new Parser(text, fileName).ParseDocument();

    private sealed class Parser(string text, string file)
    {
        private readonly HashSet<TomlTable> _explicitTables = [];
        private int _pos;
        private int _line = 1;

        public TomlTable ParseDocument()
        {
            var root = new TomlTable(0);
            var current = root;
            while (true)
            {
                SkipWhitespaceCommentsAndNewlines();
                if (AtEnd)
                {
                    return root;
                }

                if (Peek == '[')
                {
                    current = ParseTableHeader(root);
                }
                else
                {
                    ParseKeyValue(current);
                }

                ExpectEndOfLine();
            }
        }

        private bool AtEnd => _pos >= text.Length;

        private char Peek => text[_pos];

        private TomlTable ParseTableHeader(TomlTable root)
        {
            var headerLine = _line;
            _pos++;
            var isArray = !AtEnd && Peek == '[';
            if (isArray)
            {
                _pos++;
            }

            SkipInlineWhitespace();
            var path = ParseDottedKey();
            SkipInlineWhitespace();
            Expect(']');
            if (isArray)
            {
                Expect(']');
            }

            var parent = root;
            for (var i = 0; i < path.Count - 1; i++)
            {
                parent = DescendForHeader(parent, path[i], headerLine);
            }

            var last = path[^1];
            if (isArray)
            {
                var table = new TomlTable(headerLine);
                if (!parent.TryGetValue(last, out var existing))
                {
                    parent.Add(last, new List<TomlTable> { table }, headerLine);
                }
                else if (existing is List<TomlTable> list)
                {
                    list.Add(table);
                }
                else
                {
                    throw Error($"\"{last}\" is already defined (line {parent.LineOf(last)}) and is not an array of tables", headerLine);
                }

                return table;
            }

            if (parent.TryGetValue(last, out var found))
            {
                if (found is TomlTable implicitTable && !_explicitTables.Contains(implicitTable))
                {
                    _explicitTables.Add(implicitTable);
                    return implicitTable;
                }

                throw Error($"table \"{string.Join('.', path)}\" is defined twice (first on line {parent.LineOf(last)})", headerLine);
            }

            var created = new TomlTable(headerLine);
            _explicitTables.Add(created);
            parent.Add(last, created, headerLine);
            return created;
        }

        // [a.b] and [[a.b]] walk through a's last array element, as TOML specifies.
        private TomlTable DescendForHeader(TomlTable parent, string key, int line)
        {
            if (!parent.TryGetValue(key, out var value))
            {
                var created = new TomlTable(line);
                parent.Add(key, created, line);
                return created;
            }

            return value switch
            {
                TomlTable table => table,
                List<TomlTable> list => list[^1],
                _ => throw Error($"\"{key}\" is a value (line {parent.LineOf(key)}), not a table", line),
            };
        }

        private void ParseKeyValue(TomlTable current)
        {
            var line = _line;
            var path = ParseDottedKey();
            SkipInlineWhitespace();
            Expect('=');
            SkipInlineWhitespace();
            var value = ParseValue();
            var table = current;
            for (var i = 0; i < path.Count - 1; i++)
            {
                if (!table.TryGetValue(path[i], out var next))
                {
                    var created = new TomlTable(line);
                    table.Add(path[i], created, line);
                    table = created;
                }
                else if (next is TomlTable nested)
                {
                    table = nested;
                }
                else
                {
                    throw Error($"\"{path[i]}\" is already a value, not a table", line);
                }
            }

            if (table.Contains(path[^1]))
            {
                throw Error($"duplicate key \"{string.Join('.', path)}\" (first on line {table.LineOf(path[^1])})", line);
            }

            table.Add(path[^1], value, line);
        }

        private List<string> ParseDottedKey()
        {
            var parts = new List<string> { ParseSimpleKey() };
            while (true)
            {
                SkipInlineWhitespace();
                if (AtEnd || Peek != '.')
                {
                    return parts;
                }

                _pos++;
                SkipInlineWhitespace();
                parts.Add(ParseSimpleKey());
            }
        }

        private string ParseSimpleKey()
        {
            if (AtEnd)
            {
                throw Error("expected a key");
            }

            if (Peek == '"')
            {
                return ParseBasicString();
            }

            if (Peek == '\'')
            {
                return ParseLiteralString();
            }

            var start = _pos;
            while (!AtEnd && (char.IsAsciiLetterOrDigit(Peek) || Peek is '-' or '_'))
            {
                _pos++;
            }

            if (start == _pos)
            {
                throw Error($"expected a key, found {Describe()}");
            }

            return text[start.._pos];
        }

        private object ParseValue()
        {
            if (AtEnd)
            {
                throw Error("expected a value");
            }

            switch (Peek)
            {
                case '"':
                    if (LookingAt("\"\"\""))
                    {
                        throw Error("multi-line strings are not supported");
                    }

                    return ParseBasicString();
                case '\'':
                    if (LookingAt("'''"))
                    {
                        throw Error("multi-line strings are not supported");
                    }

                    return ParseLiteralString();
                case '[':
                    return ParseStringArray();
                case '{':
                    throw Error("inline tables are not supported");
            }

            if (LookingAt("true") && !IsBareChar(4))
            {
                _pos += 4;
                return true;
            }

            if (LookingAt("false") && !IsBareChar(5))
            {
                _pos += 5;
                return false;
            }

            var start = _pos;
            if (Peek is '+' or '-')
            {
                _pos++;
            }

            while (!AtEnd && (char.IsAsciiDigit(Peek) || Peek == '_'))
            {
                _pos++;
            }

            var number = text[start.._pos].Replace("_", string.Empty, StringComparison.Ordinal);
            if (_pos > start && (AtEnd || !IsBareChar(0)) &&
                long.TryParse(number, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
            {
                return integer;
            }

            _pos = start;
            throw Error($"unsupported or invalid value starting with {Describe()} (expected a string, boolean, integer or array of strings)");
        }

        private List<string> ParseStringArray()
        {
            Expect('[');
            var items = new List<string>();
            while (true)
            {
                SkipWhitespaceCommentsAndNewlines();
                if (AtEnd)
                {
                    throw Error("unterminated array");
                }

                if (Peek == ']')
                {
                    _pos++;
                    return items;
                }

                if (Peek is not ('"' or '\''))
                {
                    throw Error($"only arrays of strings are supported, found {Describe()}");
                }

                items.Add(Peek == '"' ? ParseBasicString() : ParseLiteralString());
                SkipWhitespaceCommentsAndNewlines();
                if (AtEnd)
                {
                    throw Error("unterminated array");
                }

                if (Peek == ',')
                {
                    _pos++;
                }
                else if (Peek != ']')
                {
                    throw Error($"expected ',' or ']' in array, found {Describe()}");
                }
            }
        }

        private string ParseBasicString()
        {
            Expect('"');
            var builder = new StringBuilder();
            while (true)
            {
                if (AtEnd || Peek == '\n')
                {
                    throw Error("unterminated string");
                }

                var c = text[_pos++];
                if (c == '"')
                {
                    return builder.ToString();
                }

                if (c != '\\')
                {
                    if (char.IsControl(c) && c != '\t')
                    {
                        throw Error("control character in string");
                    }

                    builder.Append(c);
                    continue;
                }

                if (AtEnd)
                {
                    throw Error("unterminated string");
                }

                var escape = text[_pos++];
                switch (escape)
                {
                    case '"': builder.Append('"'); break;
                    case '\\': builder.Append('\\'); break;
                    case 'b': builder.Append('\b'); break;
                    case 't': builder.Append('\t'); break;
                    case 'n': builder.Append('\n'); break;
                    case 'f': builder.Append('\f'); break;
                    case 'r': builder.Append('\r'); break;
                    case 'u': builder.Append(ParseUnicodeEscape(4)); break;
                    case 'U': builder.Append(ParseUnicodeEscape(8)); break;
                    default: throw Error($"invalid escape \"\\{escape}\" in string");
                }
            }
        }

        private string ParseUnicodeEscape(int digits)
        {
            if (_pos + digits > text.Length ||
                !int.TryParse(text.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var codePoint) ||
                codePoint > 0x10FFFF || codePoint is >= 0xD800 and <= 0xDFFF)
            {
                throw Error("invalid unicode escape in string");
            }

            _pos += digits;
            return char.ConvertFromUtf32(codePoint);
        }

        private string ParseLiteralString()
        {
            Expect('\'');
            var start = _pos;
            while (!AtEnd && Peek != '\'' && Peek != '\n')
            {
                _pos++;
            }

            if (AtEnd || Peek == '\n')
            {
                throw Error("unterminated string");
            }

            return text[start.._pos++];
        }

        private void ExpectEndOfLine()
        {
            SkipInlineWhitespace();
            if (!AtEnd && Peek == '#')
            {
                SkipComment();
            }

            if (AtEnd)
            {
                return;
            }

            if (Peek == '\r' && _pos + 1 < text.Length && text[_pos + 1] == '\n')
            {
                _pos++;
            }

            if (Peek != '\n')
            {
                throw Error($"expected the end of the line, found {Describe()}");
            }
        }

        private void SkipWhitespaceCommentsAndNewlines()
        {
            while (!AtEnd)
            {
                var c = Peek;
                if (c == '\n')
                {
                    _line++;
                    _pos++;
                }
                else if (c is ' ' or '\t' or '\r')
                {
                    _pos++;
                }
                else if (c == '#')
                {
                    SkipComment();
                }
                else
                {
                    return;
                }
            }
        }

        private void SkipComment()
        {
            while (!AtEnd && Peek != '\n')
            {
                _pos++;
            }
        }

        private void SkipInlineWhitespace()
        {
            while (!AtEnd && Peek is ' ' or '\t')
            {
                _pos++;
            }
        }

        private void Expect(char c)
        {
            if (AtEnd || Peek != c)
            {
                throw Error($"expected '{c}', found {Describe()}");
            }

            _pos++;
        }

        private bool LookingAt(string s) => string.CompareOrdinal(text, _pos, s, 0, s.Length) == 0;

        private bool IsBareChar(int offset) =>
            _pos + offset < text.Length && (char.IsAsciiLetterOrDigit(text[_pos + offset]) || text[_pos + offset] is '-' or '_' or '.' or ':');

        private string Describe() => AtEnd ? "the end of the file" : Peek == '\n' ? "the end of the line" : $"'{UntrustedText.Printable(Peek.ToString())}'";

        private TomlSyntaxException Error(string message, int? line = null) => new(file, line ?? _line, message);
    }
}
