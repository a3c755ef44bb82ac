using System.Text;
using System.Text.Json;
using Kubefly.Oci;

namespace Kubefly.Trust.Json;

public enum LocatedJsonKind
{
    Object,
    Array,
    String,
    Number,
    Boolean,
    Null,
}

/// <summary>
/// A JSON value that remembers the line it started on. Configuration files an operator edits by hand
/// (policy.json) must be rejected with the line of the offending key, and JsonDocument keeps no
/// positions; it also lets a duplicate key through, which containers-policy.json(5) forbids.
/// </summary>
public sealed class LocatedJson
{
    private const int MaxDepth = 32;
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = MaxDepth, AllowMultipleValues = true };

    private LocatedJson(LocatedJsonKind kind, int line)
    {
        Kind = kind;
        Line = line;
    }

    public LocatedJsonKind Kind { get; }

    public int Line { get; }

    /// <summary>An object's members in file order (names are unique: duplicates are refused).</summary>
    public IReadOnlyList<KeyValuePair<string, LocatedJson>> Members { get; private init; } = [];

    public IReadOnlyList<LocatedJson> Items { get; private init; } = [];

    public string? Text { get; private init; }

    public bool Boolean { get; private init; }

    public string DescribeKind() => Kind switch
    {
        LocatedJsonKind.Object => "an object",
        LocatedJsonKind.Array => "an array",
        LocatedJsonKind.String => "a string",
        LocatedJsonKind.Number => "a number",
        LocatedJsonKind.Boolean => "a boolean",
        _ => "null",
    };

    /// <summary>Parses one whole document; a syntax error or a duplicate key throws <see cref="LocatedJsonException"/>.</summary>
    public static LocatedJson Parse(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Trim(" \t\r\n"u8).IsEmpty)
        {
            throw new LocatedJsonException(1, "the file is empty");
        }

        var lines = new LineIndex(utf8);
        var reader = new Utf8JsonReader(utf8, ReaderOptions);
        try
        {
            if (!reader.Read())
            {
                throw new LocatedJsonException(1, "the file is empty");
            }

            var root = ReadValue(ref reader, lines);
            if (reader.Read())
            {
                throw new LocatedJsonException(lines.LineOf(reader.TokenStartIndex), "unexpected content after the end of the document");
            }

            return root;
        }
        catch (JsonException e)
        {
            throw new LocatedJsonException((int)(e.LineNumber ?? 0) + 1, $"not valid JSON: {JsonText.Describe(e)}");
        }
    }

    private static LocatedJson ReadValue(ref Utf8JsonReader reader, LineIndex lines)
    {
        var line = lines.LineOf(reader.TokenStartIndex);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var members = new List<KeyValuePair<string, LocatedJson>>();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var nameLine = lines.LineOf(reader.TokenStartIndex);
                    var name = reader.GetString()!;
                    if (!seen.Add(name))
                    {
                        throw new LocatedJsonException(nameLine, $"duplicate key \"{UntrustedText.Printable(name)}\"");
                    }

                    reader.Read();
                    members.Add(new(name, ReadValue(ref reader, lines)));
                }

                return new LocatedJson(LocatedJsonKind.Object, line) { Members = members };
            case JsonTokenType.StartArray:
                var items = new List<LocatedJson>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    items.Add(ReadValue(ref reader, lines));
                }

                return new LocatedJson(LocatedJsonKind.Array, line) { Items = items };
            case JsonTokenType.String:
                return new LocatedJson(LocatedJsonKind.String, line) { Text = reader.GetString() };
            case JsonTokenType.Number:
                return new LocatedJson(LocatedJsonKind.Number, line) { Text = Encoding.UTF8.GetString(reader.ValueSpan) };
            case JsonTokenType.True or JsonTokenType.False:
                return new LocatedJson(LocatedJsonKind.Boolean, line) { Boolean = reader.GetBoolean() };
            default:
                return new LocatedJson(LocatedJsonKind.Null, line);
        }
    }

    /// <summary>Byte offsets of line starts, for turning a token's offset into a line number.</summary>
    private sealed class LineIndex
    {
        private readonly List<long> _starts = [0];

        public LineIndex(ReadOnlySpan<byte> text)
        {
            for (var i = 0; i < text.Length; i++)
            {
                if (text[i] == (byte)'\n')
                {
                    _starts.Add(i + 1);
                }
            }
        }

        public int LineOf(long offset)
        {
            var index = _starts.BinarySearch(offset);
            return (index >= 0 ? index : ~index - 1) + 1;
        }
    }
}

public sealed class LocatedJsonException(int line, string message) : Exception(message)
{
    public int Line { get; } = line;
}
