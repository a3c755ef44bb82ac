using System.IO.Compression;
using System.Text.Json;
using Kubefly.Oci;

namespace Kubefly.Tests.Infrastructure.Images;

/// <summary>
/// Writes OCI image layouts from layer tars, with the compression and platforms a test asks for, so the
/// tests exercise real documents: real digests, real gzip/zstd, real indexes.
/// </summary>
public sealed class OciLayoutBuilder
{
    private readonly string _directory;
    private readonly List<Descriptor> _indexEntries = [];

    public OciLayoutBuilder(string directory)
    {
        _directory = directory;
        Directory.CreateDirectory(Path.Combine(directory, "blobs", "sha256"));
        File.WriteAllText(Path.Combine(directory, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    }

    /// <summary>Adds one image; returns its manifest descriptor (not yet in index.json unless tagged).</summary>
    /// <param name="diffIds">What the config claims the layers' diff_ids are (by default their true digests).</param>
    public Descriptor AddImage(IReadOnlyList<byte[]> layerTars, LayerCompression compression, Platform platform, ContainerConfig? config = null, string? tag = null, IReadOnlyList<Digest>? diffIds = null)
    {
        var layers = new List<Descriptor>();
        var trueDiffIds = new List<Digest>();
        foreach (var tar in layerTars)
        {
            trueDiffIds.Add(Digest.Compute(tar));
            var (bytes, mediaType) = Compress(tar, compression);
            layers.Add(WriteBlob(bytes, mediaType));
        }

        return AddImageWithLayerBlobs(layers, diffIds ?? trueDiffIds, platform, config, tag);
    }

    /// <summary>Adds an image whose layer blobs are already written (<see cref="WriteBlob"/>, or streamed by a test).</summary>
    public Descriptor AddImageWithLayerBlobs(IReadOnlyList<Descriptor> layers, IReadOnlyList<Digest> diffIds, Platform platform, ContainerConfig? config = null, string? tag = null)
    {
        var imageConfig = new ImageConfiguration
        {
            Architecture = platform.Architecture,
            Os = platform.Os,
            Variant = platform.Variant,
            Config = config ?? new ContainerConfig { Cmd = ["/bin/sh"], Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
            RootFs = new RootFs { Type = "layers", DiffIds = diffIds },
        };
        var configDescriptor = WriteBlob(JsonSerializer.SerializeToUtf8Bytes(imageConfig, OciJsonContext.Default.ImageConfiguration), MediaTypes.OciConfig);
        var manifest = new ImageManifest { SchemaVersion = 2, MediaType = MediaTypes.OciManifest, Config = configDescriptor, Layers = layers };
        var descriptor = WriteBlob(JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Default.ImageManifest), MediaTypes.OciManifest) with
        {
            Platform = new ManifestPlatform { Os = platform.Os, Architecture = platform.Architecture, Variant = platform.Variant },
        };
        if (tag is not null)
        {
            Tag(descriptor, tag);
        }

        return descriptor;
    }

    /// <summary>Adds an image index over several manifests and tags it.</summary>
    public Descriptor AddIndex(IReadOnlyList<Descriptor> manifests, string tag)
    {
        var index = new ImageIndex { SchemaVersion = 2, MediaType = MediaTypes.OciIndex, Manifests = manifests };
        var descriptor = WriteBlob(JsonSerializer.SerializeToUtf8Bytes(index, OciJsonContext.Default.ImageIndex), MediaTypes.OciIndex);
        Tag(descriptor, tag);
        return descriptor;
    }

    /// <summary>Where a blob with this digest lives in the layout.</summary>
    public string BlobPath(Digest digest) => Path.Combine(_directory, "blobs", "sha256", digest.Hex);

    public Descriptor WriteBlob(byte[] content, string mediaType)
    {
        var digest = Digest.Compute(content);
        File.WriteAllBytes(Path.Combine(_directory, "blobs", "sha256", digest.Hex), content);
        return new Descriptor { MediaType = mediaType, Digest = digest, Size = content.Length };
    }

    public static (byte[] Bytes, string MediaType) Compress(byte[] tar, LayerCompression compression)
    {
        switch (compression)
        {
            case LayerCompression.Gzip:
                var gz = new MemoryStream();
                using (var gzip = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
                {
                    gzip.Write(tar);
                }

                return (gz.ToArray(), MediaTypes.OciLayerGzip);
            case LayerCompression.Zstd:
                using (var compressor = new ZstdSharp.Compressor(3))
                {
                    return (compressor.Wrap(tar).ToArray(), MediaTypes.OciLayerZstd);
                }

            default:
                return (tar, MediaTypes.OciLayer);
        }
    }

    /// <summary>Names any descriptor in index.json (a hand-written manifest or index, for malformed-input tests).</summary>
    public void Tag(Descriptor descriptor, string tag)
    {
        _indexEntries.RemoveAll(d => d.Annotations?["org.opencontainers.image.ref.name"] == tag);
        _indexEntries.Add(descriptor with { Annotations = new Dictionary<string, string> { ["org.opencontainers.image.ref.name"] = tag } });
        var index = new ImageIndex { SchemaVersion = 2, Manifests = _indexEntries };
        File.WriteAllBytes(Path.Combine(_directory, "index.json"), JsonSerializer.SerializeToUtf8Bytes(index, OciJsonContext.Default.ImageIndex));
    }
}
