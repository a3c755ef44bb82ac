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
        entry is null ? $"layer {layer}: {reason}" : $"layer {layer}: entry \"{UntrustedText.Printable(entry)}\": {reason}";
}
