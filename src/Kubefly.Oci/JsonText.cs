using System.Text.Json;

namespace Kubefly.Oci;

/// <summary>
/// What went wrong in a JSON document, in kubefly's words. The NativeAOT build strips .NET's resource
/// strings (UseSystemResourceKeys in src/Kubefly.Cli/Kubefly.Cli.csproj), so the reader's and the
/// serializer's own messages are bare keys such as "ExpectedStartOfValueNotFound": only their position
/// is kept. Messages kubefly wrote itself (no position) pass through.
/// </summary>
public static class JsonText
{
    public static string Describe(Exception exception) => exception switch
    {
        // A converter's own message (kubefly's Digest converter: "invalid digest ..."), the serializer adding where.
        JsonException json when !IsRuntimeText(json.Message) && json.InnerException is null => json.Message,
        JsonException { LineNumber: { } line, BytePositionInLine: { } column } json =>
            $"not valid JSON at line {line + 1}, column {column + 1}{(json.Path is { Length: > 1 } path ? $" ({UntrustedText.Printable(path)})" : string.Empty)}",
        JsonException { Path: { Length: > 1 } path } => $"invalid value at {UntrustedText.Printable(path)}",
        JsonException json => json.InnerException is { } inner && IsRuntimeText(json.Message) ? Describe(inner) : json.Message,
        OverflowException => "a number is out of range",
        FormatException => "a value has the wrong format",
        InvalidOperationException => "a value has the wrong type",
        KubeflyException => exception.Message,
        _ => "invalid document",
    };

    // A runtime message under UseSystemResourceKeys: a bare key ("Overflow_Int32"), maybe with arguments after a comma.
    private static bool IsRuntimeText(string message)
    {
        var key = message.Split(',')[0];
        return key.Length > 0 && char.IsUpper(key[0]) && !key.Contains(' ', StringComparison.Ordinal);
    }
}
