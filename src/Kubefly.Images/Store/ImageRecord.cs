using System.Text.Json.Serialization;
using Kubefly.Oci;

namespace Kubefly.Images.Store;

/// <summary>What the store knows of one image; written last, so its existence means all content is in place.</summary>
public sealed record ImageRecord
{
    [JsonPropertyName("manifestDigest")]
    public required Digest ManifestDigest { get; init; }

    [JsonPropertyName("manifestMediaType")]
    public string ManifestMediaType { get; init; } = MediaTypes.OciManifest;

    /// <summary>The digest the name pointed at when it is an index (the manifest is then the platform's entry).</summary>
    [JsonPropertyName("indexDigest")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Digest? IndexDigest { get; init; }

    [JsonPropertyName("configDigest")]
    public required Digest ConfigDigest { get; init; }

    [JsonPropertyName("names")]
    public required IReadOnlyList<string> Names { get; init; }

    [JsonPropertyName("layers")]
    public required IReadOnlyList<LayerRecord> Layers { get; init; }

    [JsonPropertyName("platform")]
    public string Platform { get; init; } = string.Empty;

    [JsonPropertyName("importTime")]
    public required DateTimeOffset ImportTime { get; init; }

    [JsonPropertyName("lastUsed")]
    public required DateTimeOffset LastUsed { get; init; }

    [JsonPropertyName("size")]
    public long Size { get; init; }
}

public sealed record LayerRecord
{
    [JsonPropertyName("blob")]
    public required Digest Blob { get; init; }

    [JsonPropertyName("diffId")]
    public required Digest DiffId { get; init; }

    [JsonPropertyName("mediaType")]
    public required string MediaType { get; init; }

    [JsonPropertyName("size")]
    public long Size { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(ImageRecord))]
internal sealed partial class StoreJsonContext : JsonSerializerContext
{
}
