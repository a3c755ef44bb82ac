using System.Text.Json;
using Kubefly.Images.Sources;
using Kubefly.Oci;

namespace Kubefly.Images;

/// <summary>An image manifest chosen for this platform, with the bytes that were verified.</summary>
public sealed record ResolvedManifest(RawManifest Raw, ImageManifest Manifest, Platform Platform);

/// <summary>
/// Turns what a reference names (an index, a manifest list or a manifest) into one image manifest for a
/// platform. Indexes may nest; depth is bounded so a cycle of indexes ends in a clear error.
/// </summary>
public static class ManifestResolver
{
    private const int MaxIndexDepth = 4;

    /// <summary>
    /// The most layers an image may have: what one overlay mount can stack (src/Kubefly.Fly/OverlayOptions.cs).
    /// Refused at the manifest, before anything is downloaded.
    /// </summary>
    public const int MaxLayers = 500;

    /// <summary>Largest blob a manifest may declare: the uncompressed layer limit (no real layer compresses to more).</summary>
    public const long MaxBlobSize = Unpacking.UnpackLimits.DefaultMaxTotalBytes;

    /// <param name="root">What the reference itself names (already fetched, so trust could be checked first).</param>
    public static async Task<ResolvedManifest> ResolveAsync(IImageSource source, RawManifest root, Platform platform, CancellationToken cancellationToken)
    {
        var raw = root;
        var seen = new HashSet<Digest>();
        for (var depth = 0; ; depth++)
        {
            if (!seen.Add(raw.Digest) || depth > MaxIndexDepth)
            {
                throw new ImageException($"{source.Reference}: image index nesting too deep or cyclic at {raw.Digest}");
            }

            var kind = Classify(raw, source.Reference);
            if (kind == DocumentKind.Manifest)
            {
                return new ResolvedManifest(raw, ParseManifest(raw, source.Reference), platform);
            }

            var index = Parse(raw.Bytes, OciJsonContext.Default.ImageIndex, source.Reference, "image index");
            if (index.Manifests is null || index.Manifests.Any(m => m is null))
            {
                throw new ImageException($"{source.Reference}: image index {raw.Digest} has no \"manifests\" list (or a null entry in it)");
            }

            var chosen = ChooseForPlatform(index, platform)
                ?? throw new ImageException($"{source.Reference}: no image for platform {platform} in the index (available: {DescribePlatforms(index)})");
            raw = await source.GetManifestAsync(chosen.Digest, cancellationToken).ConfigureAwait(false);
            if (!raw.Digest.FixedTimeEquals(chosen.Digest))
            {
                throw new DigestMismatchException($"{source.Reference} manifest", chosen.Digest, raw.Digest);
            }
        }
    }

    /// <summary>First entry with the best platform match wins; entries of unknown kinds are skipped, never an error.</summary>
    public static Descriptor? ChooseForPlatform(ImageIndex index, Platform platform)
    {
        Descriptor? best = null;
        var bestRank = int.MaxValue;
        foreach (var entry in index.Manifests)
        {
            if (!MediaTypes.IsManifest(entry.MediaType) && !MediaTypes.IsIndex(entry.MediaType))
            {
                continue;
            }

            var rank = entry.Platform is null ? -1 : platform.MatchRank(entry.Platform);
            if (rank >= 0 && rank < bestRank)
            {
                best = entry;
                bestRank = rank;
            }
        }

        return best;
    }

    public static ImageManifest ParseManifest(RawManifest raw, ImageReference reference)
    {
        var manifest = Parse(raw.Bytes, OciJsonContext.Default.ImageManifest, reference, "manifest");
        if (manifest.SchemaVersion != 2)
        {
            throw new ImageException($"{reference}: unsupported manifest schemaVersion {manifest.SchemaVersion}");
        }

        if (manifest.Config is null || manifest.Config.Digest.IsEmpty)
        {
            throw new ImageException($"{reference}: manifest {raw.Digest} has no config");
        }

        if (manifest.Layers is null)
        {
            throw new ImageException($"{reference}: manifest {raw.Digest} has no \"layers\" list");
        }

        if (manifest.Layers.Count > MaxLayers)
        {
            throw new ImageException($"{reference}: manifest {raw.Digest} has {manifest.Layers.Count} layers; kubefly runs images of at most {MaxLayers} layers (one overlay mount)");
        }

        foreach (var layer in manifest.Layers)
        {
            if (layer is null || layer.Digest.IsEmpty || layer.Size < 0)
            {
                throw new ImageException($"{reference}: manifest {raw.Digest} has a layer without digest or size");
            }

            if (layer.Size > MaxBlobSize)
            {
                throw new ImageException($"{reference}: manifest {raw.Digest}: layer {layer.Digest} declares {layer.Size} bytes, over the limit of {MaxBlobSize} bytes");
            }

            if (!MediaTypes.IsLayer(layer.MediaType))
            {
                throw new ImageException($"{reference}: manifest {raw.Digest}: layer {layer.Digest} has the unsupported media type \"{UntrustedText.Printable(layer.MediaType ?? string.Empty)}\"");
            }
        }

        return manifest;
    }

    /// <summary>An image config, read by hand (<see cref="ImageConfigurationJson"/>): every pod start reads one.</summary>
    public static ImageConfiguration ParseConfig(byte[] bytes, string image)
    {
        try
        {
            return ImageConfigurationJson.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new ImageException($"{image}: invalid image config: {JsonText.Describe(e)}", e);
        }
    }

    public static T Parse<T>(byte[] bytes, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, ImageReference reference, string what)
    {
        try
        {
            return JsonSerializer.Deserialize(bytes, type) ?? throw new ImageException($"{reference}: {what} is null");
        }
        catch (JsonException e)
        {
            throw new ImageException($"{reference}: invalid {what}: {JsonText.Describe(e)}", e);
        }
    }

    private static DocumentKind Classify(RawManifest raw, ImageReference reference)
    {
        var probe = Parse(raw.Bytes, OciJsonContext.Default.ManifestProbe, reference, "manifest");
        var mediaType = probe.MediaType ?? raw.MediaType;
        if (MediaTypes.IsSchema1(mediaType) || probe.SchemaVersion == 1 || probe.FsLayers is not null)
        {
            throw new ImageException($"{reference}: Docker schema1 manifests are not supported (re-push the image with a current tool)");
        }

        if (MediaTypes.IsIndex(mediaType) || (mediaType is null && probe.Manifests is not null))
        {
            return DocumentKind.Index;
        }

        if (MediaTypes.IsManifest(mediaType) || (mediaType is null && probe.Config is not null))
        {
            return DocumentKind.Manifest;
        }

        throw new ImageException($"{reference}: unsupported manifest media type \"{mediaType}\"");
    }

    private static string DescribePlatforms(ImageIndex index) =>
        string.Join(", ", index.Manifests.Where(m => m.Platform is not null).Select(m => m.Platform!.Variant is null ? $"{m.Platform.Os}/{m.Platform.Architecture}" : $"{m.Platform.Os}/{m.Platform.Architecture}/{m.Platform.Variant}"));

    private enum DocumentKind
    {
        Index,
        Manifest,
    }
}
