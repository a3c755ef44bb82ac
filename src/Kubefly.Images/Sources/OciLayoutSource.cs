using Kubefly.Linux;
using Kubefly.Oci;

namespace Kubefly.Images.Sources;

/// <summary>An OCI image layout directory (oci:DIR[:TAG]); the tag is the org.opencontainers.image.ref.name annotation.</summary>
public sealed class OciLayoutSource : IImageSource
{
    private const long MaxManifestBytes = 4 << 20;
    private const string RefNameAnnotation = "org.opencontainers.image.ref.name";
    private readonly string _directory;
    private readonly Action? _onDispose;

    public OciLayoutSource(ImageReference reference, string? directory = null, Action? onDispose = null)
    {
        Reference = reference;
        _directory = directory ?? reference.Path ?? throw new ArgumentException("oci reference without path", nameof(reference));
        _onDispose = onDispose;
        if (!File.Exists(Path.Combine(_directory, "oci-layout")))
        {
            throw new ImageException($"{reference.Original}: not an OCI image layout (no oci-layout file in {_directory})");
        }
    }

    public ImageReference Reference { get; }

    public Task<RawManifest> GetManifestAsync(Digest? digest, CancellationToken cancellationToken)
    {
        if (digest is { } wanted)
        {
            return Task.FromResult(ReadManifestBlob(wanted, mediaTypeHint: null));
        }

        var index = ManifestResolver.Parse(File.ReadAllBytes(Path.Combine(_directory, "index.json")), OciJsonContext.Default.ImageIndex, Reference, "index.json");
        if (index.Manifests is null || index.Manifests.Any(m => m is null))
        {
            throw new ImageException($"{Reference.Original}: {_directory}/index.json has no list of manifests, or a null entry in it");
        }

        var candidates = index.Manifests.Where(m => Reference.Tag is null || (m.Annotations?.TryGetValue(RefNameAnnotation, out var name) == true && name == Reference.Tag)).ToList();
        if (candidates.Count == 0)
        {
            throw new ImageException($"{Reference.Original}: no image tagged \"{Reference.Tag}\" in {_directory}/index.json");
        }

        if (candidates.Count > 1 && Reference.Tag is null)
        {
            // Several images and no tag: treat the layout's index as an image index to choose by platform.
            var bytes = File.ReadAllBytes(Path.Combine(_directory, "index.json"));
            return Task.FromResult(new RawManifest(bytes, MediaTypes.OciIndex, Digest.Compute(bytes)));
        }

        if (candidates[0].Annotations?.GetValueOrDefault(RefNameAnnotation) is { } refName && refName.Contains('/', StringComparison.Ordinal))
        {
            OwnNames = [refName];
        }

        return Task.FromResult(ReadManifestBlob(candidates[0].Digest, candidates[0].MediaType));
    }

    /// <summary>The chosen image's ref.name when it is a full reference ("quay.io/coreos/etcd:v3"), not a bare tag.</summary>
    public IReadOnlyList<string> OwnNames { get; private set; } = [];

    public Task<Stream> OpenBlobUnverifiedAsync(Descriptor blob, CancellationToken cancellationToken) =>
        Task.FromResult<Stream>(OpenBlob(blob.Digest));

    public void Dispose() => _onDispose?.Invoke();

    private RawManifest ReadManifestBlob(Digest digest, string? mediaTypeHint)
    {
        using var stream = OpenBlob(digest);
        using var verified = new DigestingStream(stream, $"{Reference.Original} manifest {digest}", digest);
        var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = verified.Read(chunk)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > MaxManifestBytes)
            {
                throw new ImageException($"{Reference.Original}: manifest {digest} larger than {MaxManifestBytes} bytes");
            }
        }

        return new RawManifest(buffer.ToArray(), mediaTypeHint ?? string.Empty, digest);
    }

    private FileStream OpenBlob(Digest digest)
    {
        var path = Path.Combine(_directory, "blobs", digest.Algorithm, digest.Hex);
        // No symlinks and no blocking opens: a blob that is a link or a FIFO must not take us elsewhere or hang.
        var errno = Interop.TryOpenat2(AtCwd.Handle, path, Interop.O_RDONLY | Interop.O_NOFOLLOW | Interop.O_NONBLOCK, 0, 0, out var handle);
        if (errno != 0)
        {
            throw new ImageException($"{Reference.Original}: blob {digest} unreadable in {_directory}: {Errno.Describe(errno)}");
        }

        var status = Interop.Fstat(handle, path);
        if (status.FileType != Interop.S_IFREG)
        {
            handle.Dispose();
            throw new ImageException($"{Reference.Original}: blob {digest} in {_directory} is a {Interop.DescribeFileType(status)}, not a regular file");
        }

        return new FileStream(handle, FileAccess.Read, 1 << 16);
    }
}
