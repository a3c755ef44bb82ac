using System.Text.Json;

namespace Kubefly.Oci;

/// <summary>Reads one property's value; the reader stands on the value's first token.</summary>
public delegate void JsonPropertyReader(string name, ref Utf8JsonReader reader);

/// <summary>Reads one array element; the reader stands on the element's first token.</summary>
public delegate T JsonElementReader<out T>(ref Utf8JsonReader reader);

/// <summary>
/// Hand-rolled reading and writing for the documents on a pod's start path (image records, image
/// configs, pod records). JsonSerializer's metadata, even source-generated, costs ~0.3 ms per type the
/// first time a process touches it, through reflection over attributes: more than everything else
/// `run` does in user space. A Utf8JsonReader walk costs microseconds. Semantics follow JsonSerializer's
/// defaults: case-sensitive names, unknown properties skipped, the last duplicate wins, null is absent,
/// one document with nothing after it. <see cref="JsonDocumentWriter"/> writes them.
/// </summary>
public static class JsonFields
{
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 };

    /// <summary>Parses a whole document that must be one object; <paramref name="property"/> sees each member.</summary>
    public static void ReadDocument(ReadOnlySpan<byte> json, JsonPropertyReader property)
    {
        // The reader itself refuses an empty document and anything after the first value (it reads one
        // final block): the first Read and the last one are where it says so.
        var reader = new Utf8JsonReader(json, ReaderOptions);
        reader.Read();
        ReadObject(ref reader, property);
        reader.Read();
    }

    /// <summary>Walks an object; leaves the reader on its EndObject.</summary>
    public static void ReadObject(ref Utf8JsonReader reader, JsonPropertyReader property)
    {
        Expect(ref reader, JsonTokenType.StartObject, "an object");
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            var name = reader.GetString()!;
            Next(ref reader);
            try
            {
                property(name, ref reader);
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or OverflowException)
            {
                // Nested objects prefix their own names: "config": "Env": expected an array, found String.
                throw new JsonException($"\"{UntrustedText.Printable(name)}\": {JsonText.Describe(e)}", e);
            }
        }
    }

    public static string? String(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.Null ? null : Expect(ref reader, JsonTokenType.String, "a string").GetString();

    public static string RequiredString(ref Utf8JsonReader reader) =>
        String(ref reader) ?? throw new JsonException("a string is required, not null");

    public static bool Boolean(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        JsonTokenType.Null => false,
        var other => throw new JsonException($"expected true or false, found {other}"),
    };

    public static long Int64(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.Null ? 0 : Expect(ref reader, JsonTokenType.Number, "a number").GetInt64();

    public static DateTimeOffset Time(ref Utf8JsonReader reader) =>
        Expect(ref reader, JsonTokenType.String, "a time").GetDateTimeOffset();

    public static Digest Digest(ref Utf8JsonReader reader)
    {
        var text = RequiredString(ref reader);
        return Oci.Digest.TryParse(text, out var digest, out var error)
            ? digest
            : throw new JsonException($"invalid digest \"{UntrustedText.Printable(text)}\": {error}");
    }

    /// <summary>An array (null reads as null).</summary>
    public static List<T>? List<T>(ref Utf8JsonReader reader, JsonElementReader<T> element)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        Expect(ref reader, JsonTokenType.StartArray, "an array");
        var items = new List<T>();
        while (Next(ref reader) != JsonTokenType.EndArray)
        {
            items.Add(element(ref reader));
        }

        return items;
    }

    public static List<string>? Strings(ref Utf8JsonReader reader) => List(ref reader, RequiredString);

    public static Dictionary<string, string>? StringMap(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        ReadObject(ref reader, (string name, ref Utf8JsonReader value) => map[name] = RequiredString(ref value));
        return map;
    }

    /// <summary>For a required property the document lacks.</summary>
    public static JsonException Missing(string property) => new($"required property \"{property}\" is missing");

    private static JsonTokenType Next(ref Utf8JsonReader reader) =>
        reader.Read() ? reader.TokenType : throw new JsonException("the document ends early");

    private static ref Utf8JsonReader Expect(ref Utf8JsonReader reader, JsonTokenType type, string what)
    {
        if (reader.TokenType != type)
        {
            throw new JsonException($"expected {what}, found {reader.TokenType}");
        }

        return ref reader;
    }
}
