using System.Text;
using System.Text.Json;
using Kubefly.Oci;

namespace Kubefly.Tests.Unit.Oci;

/// <summary>The record writer's output is JSON any reader accepts, and every string comes back as it went in.</summary>
public sealed class JsonDocumentWriterTests
{
    private static string Write(Action<JsonDocumentWriter> members)
    {
        using var stream = new MemoryStream();
        JsonDocumentWriter.WriteDocument(stream, members);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("")]
    [InlineData("quote \" backslash \\ slash /")]
    [InlineData("controls \n \r \t \b \f \u0000 \u001f \u007f")]
    [InlineData("ünïcödé, 漢字, emoji 🙂")]
    [InlineData("</script> & 'single' +")]
    public void Strings_come_back_as_they_went_in(string value)
    {
        var json = Write(w => w.WriteString("key \"quoted\"", value));

        using var document = JsonDocument.Parse(json);
        Assert.Equal(value, document.RootElement.GetProperty("key \"quoted\"").GetString());
    }

    [Fact]
    public void A_lone_surrogate_becomes_the_replacement_character_instead_of_unreadable_json()
    {
        var json = Write(w => w.WriteString("k", "a\uD800b"));

        using var document = JsonDocument.Parse(json);
        Assert.Equal("a\uFFFDb", document.RootElement.GetProperty("k").GetString());
    }

    [Fact]
    public void Nested_arrays_objects_and_scalars_are_indented_like_utf8jsonwriter()
    {
        var json = Write(w =>
        {
            w.WriteString("name", "x");
            w.WriteStrings("empty", []);
            w.WriteStrings("absent", null);
            w.WriteStrings("list", ["a", "b"]);
            w.WriteStartArray("objects");
            w.WriteStartObject();
            w.WriteNumber("size", -12);
            w.WriteBoolean("flag", true);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteTime("when", new DateTimeOffset(2026, 11, 26, 10, 0, 0, TimeSpan.Zero));
        });

        using var stream = new MemoryStream();
        using (var reference = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            reference.WriteStartObject();
            reference.WriteString("name", "x");
            reference.WriteStartArray("empty");
            reference.WriteEndArray();
            reference.WriteStartArray("list");
            reference.WriteStringValue("a");
            reference.WriteStringValue("b");
            reference.WriteEndArray();
            reference.WriteStartArray("objects");
            reference.WriteStartObject();
            reference.WriteNumber("size", -12);
            reference.WriteBoolean("flag", true);
            reference.WriteEndObject();
            reference.WriteEndArray();
            reference.WriteString("when", "2026-11-26T10:00:00.0000000+00:00");
            reference.WriteEndObject();
        }

        // Utf8JsonWriter escapes '+' (as \u002B) where JSON does not need it.
        Assert.Equal(Encoding.UTF8.GetString(stream.ToArray()).Replace("\\u002B", "+", StringComparison.Ordinal) + "\n", json);
    }
}
