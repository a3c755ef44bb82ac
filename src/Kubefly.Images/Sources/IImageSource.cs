using Kubefly.Oci;

namespace Kubefly.Images.Sources;

/// <summary>
/// Where an image's documents and blobs come from: a registry, an OCI layout, an archive. Sources
/// only deliver bytes; the puller verifies every one against the digest that names it.
/// </summary>
public interface IImageSource : IDisposable
{
    ImageReference Reference { get; }

    /// <summary>
    /// The manifest (or index) the reference names when <paramref name="digest"/> is null, else the one
    /// with that digest. Returned bytes are exactly those received; when asked by digest they already
    /// match it (a source must check), and <see cref="RawManifest.Digest"/> is always their digest.
    /// </summary>
    Task<RawManifest> GetManifestAsync(Digest? digest, CancellationToken cancellationToken);

    /// <summary>A blob's bytes, not yet verified: callers read it through a <see cref="DigestingStream"/>.</summary>
    Task<Stream> OpenBlobUnverifiedAsync(Descriptor blob, CancellationToken cancellationToken);

    /// <summary>
    /// The names the image carries itself (a docker archive's RepoTags, an OCI layout's full reference
    /// in its ref.name annotation), as written, once the manifest was read; `image import` names it so.
    /// </summary>
    IReadOnlyList<string> OwnNames => [];
}

/// <summary>Manifest bytes as received, with the media type they were served as and their digest.</summary>
public sealed record RawManifest(byte[] Bytes, string MediaType, Digest Digest);
