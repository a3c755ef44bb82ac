namespace Kubefly.Oci;

public static class MediaTypes
{
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar";
    public const string OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string OciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
    public const string OciLayerNondistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
    public const string DockerManifestSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public const string DockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    public const string CosignSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json";

    /// <summary>What a manifest request accepts, most preferred first.</summary>
    public static readonly string[] ManifestAccept = [OciIndex, OciManifest, DockerManifestList, DockerManifest];

    public static bool IsIndex(string? mediaType) => mediaType is OciIndex or DockerManifestList;

    public static bool IsManifest(string? mediaType) => mediaType is OciManifest or DockerManifest;

    public static bool IsSchema1(string? mediaType) => mediaType is DockerManifestSchema1 or DockerManifestSchema1Signed;

    public static LayerCompression LayerCompressionOf(string mediaType) =>
        TryLayerCompressionOf(mediaType) ?? throw new ImageException($"unsupported layer media type \"{UntrustedText.Printable(mediaType)}\"");

    /// <summary>Whether kubefly can unpack a layer of this media type (manifests are checked before any download).</summary>
    public static bool IsLayer(string? mediaType) => mediaType is not null && TryLayerCompressionOf(mediaType) is not null;

    private static LayerCompression? TryLayerCompressionOf(string mediaType) => mediaType switch
    {
        OciLayer or "application/vnd.oci.image.layer.nondistributable.v1.tar" => LayerCompression.None,
        OciLayerGzip or DockerLayerGzip or DockerForeignLayerGzip or OciLayerNondistributableGzip => LayerCompression.Gzip,
        OciLayerZstd or "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => LayerCompression.Zstd,
        _ => null,
    };
}

public enum LayerCompression
{
    None,
    Gzip,
    Zstd,
}
