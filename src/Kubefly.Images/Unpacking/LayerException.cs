using System.Text;
using Kubefly.Oci;

namespace Kubefly.Images.Unpacking;

/// <summary>A layer could not be decompressed or unpacked; the message names the layer and, when known, the entry.</summary>
public sealed class LayerException : ImageException
{
    public LayerException(string layer, string? entry, string reason, Exception? innerException = null)
        : base(Format(layer, entry, reason), innerException)
    {
        Layer = layer;
        Entry = entry;
        Reason = reason;
    }

    /// <summary>The description the caller gave (typically the layer digest and the image).</summary>
    public string Layer { get; }

    /// <summary>The tar entry name as it appeared in the layer, or null for stream-level failures.</summary>
    public string? Entry { get; }

    public string Reason { get; }

    private static string Format(string layer, string? entry, string reason) =>
        entry is null ? $"layer {layer}: {reason}" : $"layer {layer}: entry \"{Printable(entry)}\": {reason}";

    /// <summary>Entry names come from untrusted layers: keep control characters (NUL, escapes) out of messages and logs.</summary>
    internal static string Printable(string text, int maxLength = 256)
    {
        var builder = new StringBuilder(Math.Min(text.Length, maxLength) + 8);
        foreach (var c in text)
        {
            if (builder.Length >= maxLength)
            {
                builder.Append("...");
                break;
            }

            if (char.IsControl(c))
            {
                builder.Append($"\\x{(int)c:x2}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
