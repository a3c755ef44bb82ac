using Kubefly.Oci;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

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

    /// <summary>An error that has no line: the parser itself gave up on the file.</summary>
    public TomlSyntaxException(string file, string message, Exception? innerException = null)
        : base($"{file}: {message}", innerException)
    {
        File = file;
    }

    public string File { get; }

    /// <summary>1-based; 0 when the error has no line.</summary>
    public int Line { get; }
}

/// <summary>
/// A table of a parsed TOML document. Values are <see cref="string"/>, <see cref="bool"/>, <see cref="long"/>,
/// a list of strings, a nested <see cref="TomlTable"/>, or a list of tables (an array of tables). Every key
/// remembers its line, so the callers' own checks (unknown keys, wrong types) can name it.
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
}

/// <summary>
/// Reads the TOML containers' configuration files are written in, with Tomlyn's parser (TOML 1.1) and its
/// semantic validation: a duplicate key or table, or any syntax error, is refused with the file and line.
/// Only Tomlyn's syntax tree is used (its object serializer is reflection-based, which NativeAOT trimming
/// refuses, and it accepted duplicate keys); this walk turns the tree into <see cref="TomlTable"/>s and
/// refuses the value kinds no containers file uses (floats, dates), so a typo never becomes a default.
/// </summary>
public static class TomlDocumentReader
{
    public static TomlTable Parse(string text, string fileName)
    {
        DocumentSyntax document;
        try
        {
            document = SyntaxParser.Parse(text, fileName, validate: true);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or OverflowException or IndexOutOfRangeException)
        {
            // Tomlyn reports what it recognises as diagnostics, but throws on a file that ends inside a
            // string's backslash escape (a truncated file; found by fuzzing).
            throw new TomlSyntaxException(fileName, "not valid TOML: the file ends inside a string's escape (is it truncated?)", e);
        }

        foreach (var diagnostic in document.Diagnostics)
        {
            if (diagnostic.Kind == DiagnosticMessageKind.Error)
            {
                throw new TomlSyntaxException(fileName, diagnostic.Span.Start.Line + 1, UntrustedText.Printable(diagnostic.Message));
            }
        }

        var root = new TomlTable(0);
        foreach (var keyValue in document.KeyValues)
        {
            AddKeyValue(root, keyValue, fileName);
        }

        foreach (var table in document.Tables)
        {
            var line = LineOf(table);
            var path = KeyPath(table.Name!);
            var parent = root;
            for (var i = 0; i < path.Count - 1; i++)
            {
                parent = Descend(parent, path[i], line, fileName);
            }

            var opened = new TomlTable(line);
            if (table is TableArraySyntax)
            {
                if (!parent.TryGetValue(path[^1], out var existing))
                {
                    parent.Add(path[^1], new List<TomlTable> { opened }, line);
                }
                else if (existing is List<TomlTable> list)
                {
                    list.Add(opened);
                }
                else
                {
                    throw new TomlSyntaxException(fileName, line, $"\"{UntrustedText.Printable(path[^1])}\" is already defined (line {parent.LineOf(path[^1])}) and is not an array of tables");
                }
            }
            else if (parent.TryGetValue(path[^1], out var existing))
            {
                // Tomlyn's validation refuses a table defined twice; a table over a value is refused here.
                opened = existing as TomlTable
                    ?? throw new TomlSyntaxException(fileName, line, $"\"{UntrustedText.Printable(path[^1])}\" is already defined (line {parent.LineOf(path[^1])}) and is not a table");
            }
            else
            {
                parent.Add(path[^1], opened, line);
            }

            foreach (var keyValue in table.Items)
            {
                AddKeyValue(opened, keyValue, fileName);
            }
        }

        return root;
    }

    /// <summary>The table a dotted key or header passes through: an existing table, the last of an array of tables, or a new one.</summary>
    private static TomlTable Descend(TomlTable parent, string key, int line, string fileName)
    {
        if (!parent.TryGetValue(key, out var existing))
        {
            var created = new TomlTable(line);
            parent.Add(key, created, line);
            return created;
        }

        return existing switch
        {
            TomlTable table => table,
            List<TomlTable> { Count: > 0 } tables => tables[^1],
            _ => throw new TomlSyntaxException(fileName, line, $"\"{UntrustedText.Printable(key)}\" is already defined (line {parent.LineOf(key)}) and is not a table"),
        };
    }

    private static void AddKeyValue(TomlTable table, KeyValueSyntax keyValue, string fileName)
    {
        var line = LineOf(keyValue);
        var path = KeyPath(keyValue.Key!);
        for (var i = 0; i < path.Count - 1; i++)
        {
            table = Descend(table, path[i], line, fileName);
        }

        if (table.TryGetValue(path[^1], out _))
        {
            throw new TomlSyntaxException(fileName, line, $"duplicate key \"{UntrustedText.Printable(path[^1])}\" (first on line {table.LineOf(path[^1])})");
        }

        table.Add(path[^1], Value(keyValue.Value!, line, fileName), line);
    }

    private static object Value(ValueSyntax value, int line, string fileName) => value switch
    {
        StringValueSyntax text => text.Value ?? string.Empty,
        BooleanValueSyntax boolean => boolean.Value,
        IntegerValueSyntax integer => integer.Value,
        ArraySyntax array => Strings(array, line, fileName),
        InlineTableSyntax inline => InlineTable(inline, line, fileName),
        _ => throw new TomlSyntaxException(fileName, line, "only strings, booleans, integers, arrays of strings and tables are used in this file"),
    };

    private static List<string> Strings(ArraySyntax array, int line, string fileName)
    {
        var strings = new List<string>();
        foreach (var item in array.Items)
        {
            strings.Add(item.Value is StringValueSyntax text
                ? text.Value ?? string.Empty
                : throw new TomlSyntaxException(fileName, line, "only arrays of strings are used in this file"));
        }

        return strings;
    }

    private static TomlTable InlineTable(InlineTableSyntax inline, int line, string fileName)
    {
        var table = new TomlTable(line);
        foreach (var item in inline.Items)
        {
            AddKeyValue(table, item.KeyValue!, fileName);
        }

        return table;
    }

    private static List<string> KeyPath(KeySyntax key)
    {
        var path = new List<string> { KeyPart(key.Key!) };
        foreach (var dotted in key.DotKeys)
        {
            path.Add(KeyPart(dotted.Key!));
        }

        return path;
    }

    private static string KeyPart(BareKeyOrStringValueSyntax part) => part switch
    {
        BareKeySyntax bare => bare.Key!.Text!,
        StringValueSyntax quoted => quoted.Value ?? string.Empty,
        _ => part.ToString() ?? string.Empty,
    };

    private static int LineOf(SyntaxNode node) => node.Span.Start.Line + 1;
}
