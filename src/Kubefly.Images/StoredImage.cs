using Kubefly.Oci;

namespace Kubefly.Images;

/// <summary>An image fully present in the store: verified, every layer unpacked.</summary>
public sealed record StoredImage
{
    public required Digest ManifestDigest { get; init; }

    public required Digest ConfigDigest { get; init; }

    /// <summary>Names the image was fetched as ("docker.io/library/busybox:latest", "oci:/x:tag").</summary>
    public required IReadOnlyList<string> Names { get; init; }

    public required ImageConfiguration Config { get; init; }

    /// <summary>Unpacked layer directories, bottom layer first (reverse for overlayfs lowerdir).</summary>
    public required IReadOnlyList<string> LayerDirectories { get; init; }

    public required DateTimeOffset ImportTime { get; init; }

    public required DateTimeOffset LastUsed { get; init; }

    /// <summary>Bytes of the stored blobs (compressed layers, config, manifest).</summary>
    public required long Size { get; init; }
}
