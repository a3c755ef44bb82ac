using System.Text.Json;
using Kubefly.Oci;

namespace Kubefly.Images.Store;

/// <summary>What the store knows of one image; written last, so its existence means all content is in place.</summary>
public sealed record ImageRecord
{
    public required Digest ManifestDigest { get; init; }

    public string ManifestMediaType { get; init; } = MediaTypes.OciManifest;

    /// <summary>The digest the name pointed at when it is an index (the manifest is then the platform's entry).</summary>
    public Digest? IndexDigest { get; init; }

    public required Digest ConfigDigest { get; init; }

    public required IReadOnlyList<string> Names { get; init; }

    public required IReadOnlyList<LayerRecord> Layers { get; init; }

    public string Platform { get; init; } = string.Empty;

    public required DateTimeOffset ImportTime { get; init; }

    public required DateTimeOffset LastUsed { get; init; }

    public long Size { get; init; }

    /// <summary>How the trust policy let the image in, in an operator's words ("" for images stored before verification was recorded).</summary>
    public string Verified { get; init; } = string.Empty;

    /// <summary>The fingerprint of the policy requirements it was verified against ("" when no policy was in force).</summary>
    public string VerifiedPolicy { get; init; } = string.Empty;
}

public sealed record LayerRecord
{
    public required Digest Blob { get; init; }

    public required Digest DiffId { get; init; }

    public required string MediaType { get; init; }

    public long Size { get; init; }
}

/// <summary>
/// records/HEX.json, read and written by hand: `run` reads every record to find its image, and
/// JsonSerializer's first use would cost more than the rest of that lookup (see <see cref="JsonFields"/>).
/// </summary>
internal static class ImageRecordJson
{
    public static ImageRecord Parse(ReadOnlySpan<byte> json)
    {
        Digest? manifest = null, config = null, index = null;
        string mediaType = MediaTypes.OciManifest, platform = string.Empty, verified = string.Empty, verifiedPolicy = string.Empty;
        IReadOnlyList<string>? names = null;
        IReadOnlyList<LayerRecord>? layers = null;
        DateTimeOffset? imported = null, lastUsed = null;
        long size = 0;
        JsonFields.ReadDocument(json, (string name, ref Utf8JsonReader reader) =>
        {
            switch (name)
            {
                case "manifestDigest": manifest = JsonFields.Digest(ref reader); break;
                case "manifestMediaType": mediaType = JsonFields.RequiredString(ref reader); break;
                case "indexDigest": index = reader.TokenType == JsonTokenType.Null ? null : JsonFields.Digest(ref reader); break;
                case "configDigest": config = JsonFields.Digest(ref reader); break;
                case "names": names = JsonFields.Strings(ref reader); break;
                case "layers": layers = JsonFields.List(ref reader, ParseLayer); break;
                case "platform": platform = JsonFields.String(ref reader) ?? string.Empty; break;
                case "importTime": imported = JsonFields.Time(ref reader); break;
                case "lastUsed": lastUsed = JsonFields.Time(ref reader); break;
                case "size": size = JsonFields.Int64(ref reader); break;
                case "verified": verified = JsonFields.String(ref reader) ?? string.Empty; break;
                case "verifiedPolicy": verifiedPolicy = JsonFields.String(ref reader) ?? string.Empty; break;
                default: reader.Skip(); break;
            }
        });
        return new ImageRecord
        {
            ManifestDigest = manifest ?? throw JsonFields.Missing("manifestDigest"),
            ManifestMediaType = mediaType,
            IndexDigest = index,
            ConfigDigest = config ?? throw JsonFields.Missing("configDigest"),
            Names = names ?? throw JsonFields.Missing("names"),
            Layers = layers ?? throw JsonFields.Missing("layers"),
            Platform = platform,
            ImportTime = imported ?? throw JsonFields.Missing("importTime"),
            LastUsed = lastUsed ?? throw JsonFields.Missing("lastUsed"),
            Size = size,
            Verified = verified,
            VerifiedPolicy = verifiedPolicy,
        };
    }

    public static void Write(Stream stream, ImageRecord record) => JsonDocumentWriter.WriteDocument(stream, writer =>
    {
        writer.WriteString("manifestDigest", record.ManifestDigest.ToString());
        writer.WriteString("manifestMediaType", record.ManifestMediaType);
        if (record.IndexDigest is { } index)
        {
            writer.WriteString("indexDigest", index.ToString());
        }

        writer.WriteString("configDigest", record.ConfigDigest.ToString());
        writer.WriteStrings("names", record.Names);
        writer.WriteStartArray("layers");
        foreach (var layer in record.Layers)
        {
            writer.WriteStartObject();
            writer.WriteString("blob", layer.Blob.ToString());
            writer.WriteString("diffId", layer.DiffId.ToString());
            writer.WriteString("mediaType", layer.MediaType);
            writer.WriteNumber("size", layer.Size);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteString("platform", record.Platform);
        writer.WriteTime("importTime", record.ImportTime);
        writer.WriteTime("lastUsed", record.LastUsed);
        writer.WriteNumber("size", record.Size);
        writer.WriteString("verified", record.Verified);
        writer.WriteString("verifiedPolicy", record.VerifiedPolicy);
    });

    private static LayerRecord ParseLayer(ref Utf8JsonReader reader)
    {
        Digest? blob = null, diffId = null;
        string? mediaType = null;
        long size = 0;
        JsonFields.ReadObject(ref reader, (string name, ref Utf8JsonReader value) =>
        {
            switch (name)
            {
                case "blob": blob = JsonFields.Digest(ref value); break;
                case "diffId": diffId = JsonFields.Digest(ref value); break;
                case "mediaType": mediaType = JsonFields.RequiredString(ref value); break;
                case "size": size = JsonFields.Int64(ref value); break;
                default: value.Skip(); break;
            }
        });
        return new LayerRecord
        {
            Blob = blob ?? throw JsonFields.Missing("layers[].blob"),
            DiffId = diffId ?? throw JsonFields.Missing("layers[].diffId"),
            MediaType = mediaType ?? throw JsonFields.Missing("layers[].mediaType"),
            Size = size,
        };
    }
}
