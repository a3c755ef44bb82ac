using System.Text.Json;
using System.Text.Json.Serialization;
using Kubefly.Oci;

namespace Kubefly.Images.Sources;

/// <summary>
/// docker-archive:FILE[:REFERENCE]: `docker save` output. Such archives carry no manifest of the kind a
/// registry serves, so one is written here (OCI types) over the digests computed from the files.
/// </summary>
public sealed class DockerArchiveSource : IImageSource
{
    private readonly ArchiveFiles _files;
    private readonly Dictionary<Digest, string> _blobs;
    private readonly RawManifest _manifest;

    private DockerArchiveSource(ImageReference reference, ArchiveFiles files, Dictionary<Digest, string> blobs, RawManifest manifest)
    {
        Reference = reference;
        _files = files;
        _blobs = blobs;
        _manifest = manifest;
    }

    public ImageReference Reference { get; }

    public IReadOnlyList<string> OwnNames { get; private init; } = [];

    public static DockerArchiveSource Open(ImageReference reference, string scratchDirectory)
    {
        var files = ArchiveFiles.Extract(reference.Path!, scratchDirectory, reference.Original);
        try
        {
            var entries = ManifestResolver.Parse(File.ReadAllBytes(files.Get("manifest.json", reference.Original)), DockerArchiveJsonContext.Default.ListDockerArchiveEntry, reference, "manifest.json");
            var entry = Choose(entries, reference);
            var configPath = files.Get(entry.Config, reference.Original);
            var blobs = new Dictionary<Digest, string>();
            var config = AddBlob(blobs, configPath, MediaTypes.OciConfig);
            var layers = entry.Layers.Select(layer => AddLayer(blobs, files.Get(layer, reference.Original))).ToList();
            var manifest = new ImageManifest { SchemaVersion = 2, MediaType = MediaTypes.OciManifest, Config = config, Layers = layers };
            var bytes = JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Default.ImageManifest);
            return new DockerArchiveSource(reference, files, blobs, new RawManifest(bytes, MediaTypes.OciManifest, Digest.Compute(bytes))) { OwnNames = entry.RepoTags ?? [] };
        }
        catch
        {
            files.Dispose();
            throw;
        }
    }

    public Task<RawManifest> GetManifestAsync(Digest? digest, CancellationToken cancellationToken)
    {
        if (digest is { } wanted && !wanted.FixedTimeEquals(_manifest.Digest))
        {
            throw new ImageException($"{Reference.Original}: no manifest {wanted} in a docker archive (its image is {_manifest.Digest})");
        }

        return Task.FromResult(_manifest);
    }

    public Task<Stream> OpenBlobUnverifiedAsync(Descriptor blob, CancellationToken cancellationToken) =>
        _blobs.TryGetValue(blob.Digest, out var path)
            ? Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
            : throw new ImageException($"{Reference.Original}: blob {blob.Digest} not in the archive");

    public void Dispose() => _files.Dispose();

    private static DockerArchiveEntry Choose(List<DockerArchiveEntry> entries, ImageReference reference)
    {
        if (entries.Count == 0)
        {
            throw new ImageException($"{reference.Original}: manifest.json lists no image");
        }

        if (reference.Tag is null)
        {
            return entries.Count == 1
                ? entries[0]
                : throw new ImageException($"{reference.Original}: the archive holds {entries.Count} images; name one (docker-archive:FILE:NAME:TAG), e.g. {string.Join(", ", entries.SelectMany(e => e.RepoTags ?? []).Take(5))}");
        }

        var wanted = ImageReference.Parse(reference.Tag).ToString();
        return entries.FirstOrDefault(e => (e.RepoTags ?? []).Any(t => ImageReference.TryParse(t, out var r, out _) && r.ToString() == wanted))
            ?? throw new ImageException($"{reference.Original}: no image named {wanted} in the archive");
    }

    private static Descriptor AddBlob(Dictionary<Digest, string> blobs, string path, string mediaType)
    {
        Digest digest;
        using (var stream = File.OpenRead(path))
        {
            digest = Digest.Compute(stream);
        }

        blobs[digest] = path;
        return new Descriptor { MediaType = mediaType, Digest = digest, Size = new FileInfo(path).Length };
    }

    private static Descriptor AddLayer(Dictionary<Digest, string> blobs, string path)
    {
        Span<byte> magic = stackalloc byte[4];
        int read;
        using (var stream = File.OpenRead(path))
        {
            read = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        }

        var mediaType = read >= 2 && magic[0] == 0x1f && magic[1] == 0x8b ? MediaTypes.OciLayerGzip
            : read >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd ? MediaTypes.OciLayerZstd
            : MediaTypes.OciLayer;
        return AddBlob(blobs, path, mediaType);
    }
}

public sealed record DockerArchiveEntry
{
    [JsonPropertyName("Config")]
    public string Config { get; init; } = string.Empty;

    [JsonPropertyName("RepoTags")]
    public List<string>? RepoTags { get; init; }

    [JsonPropertyName("Layers")]
    public List<string> Layers { get; init; } = [];
}

[JsonSerializable(typeof(List<DockerArchiveEntry>))]
internal sealed partial class DockerArchiveJsonContext : JsonSerializerContext
{
}
