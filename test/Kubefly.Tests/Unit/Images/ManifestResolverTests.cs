using System.Text;
using Kubefly.Images;
using Kubefly.Images.Sources;
using Kubefly.Oci;

namespace Kubefly.Tests.Unit.Images;

public class ManifestResolverTests
{
    private static readonly ImageReference Reference = ImageReference.Parse("example.com/app:v1");

    [Fact]
    public void ChoosesTheFirstBestPlatformAndSkipsUnknownEntries()
    {
        var index = new ImageIndex
        {
            SchemaVersion = 2,
            Manifests =
            [
                Entry("application/vnd.example.unknown", "linux", "amd64", null, 'a'),
                Entry(MediaTypes.OciManifest, "linux", "arm", "v6", 'b'),
                Entry(MediaTypes.OciManifest, "linux", "arm", "v7", 'c'),
                Entry(MediaTypes.OciManifest, "linux", "arm", "v7", 'd'),
                Entry(MediaTypes.OciManifest, "linux", "amd64", null, 'e'),
            ],
        };
        Assert.Equal('c', ChosenMarker(index, new Platform("linux", "arm", "v7")));
        Assert.Equal('b', ChosenMarker(index, new Platform("linux", "arm", "v6")));
        Assert.Equal('e', ChosenMarker(index, new Platform("linux", "amd64")));
        Assert.Null(ManifestResolver.ChooseForPlatform(index, new Platform("linux", "arm", "v5")));
    }

    [Fact]
    public async Task RejectsSchema1Manifests()
    {
        var schema1 = Encoding.UTF8.GetBytes("{\"schemaVersion\":1,\"name\":\"x\",\"tag\":\"v1\",\"fsLayers\":[]}");
        var source = new FixedSource(new RawManifest(schema1, MediaTypes.DockerManifestSchema1Signed, Digest.Compute(schema1)));
        var error = await Assert.ThrowsAsync<ImageException>(() => ManifestResolver.ResolveAsync(source, source.Root, Platform.Host, CancellationToken.None));
        Assert.Contains("schema1", error.Message);
        Assert.Contains("example.com/app:v1", error.Message);
    }

    [Fact]
    public async Task DeeplyNestedIndexesEndInAClearError()
    {
        // Content addressing makes true cycles impossible; a chain of indexes is what a hostile source can do.
        var documents = new Dictionary<Digest, byte[]>();
        var next = Digest.Parse("sha256:" + new string('0', 64));
        byte[] bytes = [];
        for (var i = 0; i < 8; i++)
        {
            bytes = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"{next}\",\"size\":1,\"platform\":{{\"os\":\"linux\",\"architecture\":\"{Platform.Host.Architecture}\"}}}}]}}");
            next = Digest.Compute(bytes);
            documents[next] = bytes;
        }

        var source = new FixedSource(new RawManifest(bytes, MediaTypes.OciIndex, next)) { Documents = documents };
        var error = await Assert.ThrowsAsync<ImageException>(() => ManifestResolver.ResolveAsync(source, source.Root, Platform.Host, CancellationToken.None));
        Assert.Contains("too deep", error.Message);
    }

    [Fact]
    public async Task AManifestServedUnderTheWrongDigestIsRejected()
    {
        var other = Encoding.UTF8.GetBytes("{\"schemaVersion\":2,\"config\":{}}");
        var index = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:{new string('1', 64)}\",\"size\":1,\"platform\":{{\"os\":\"linux\",\"architecture\":\"{Platform.Host.Architecture}\"}}}}]}}");
        var source = new FixedSource(new RawManifest(index, MediaTypes.OciIndex, Digest.Compute(index)))
        {
            Documents = new Dictionary<Digest, byte[]> { [Digest.Parse("sha256:" + new string('1', 64))] = other },
        };
        await Assert.ThrowsAsync<DigestMismatchException>(() => ManifestResolver.ResolveAsync(source, source.Root, Platform.Host, CancellationToken.None));
    }

    [Fact]
    public void InvalidDigestsInAManifestAreRejectedWhileParsing()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:../../etc\",\"size\":1},\"layers\":[]}");
        var error = Assert.Throws<ImageException>(() => ManifestResolver.ParseManifest(new RawManifest(bytes, MediaTypes.OciManifest, Digest.Compute(bytes)), Reference));
        Assert.Contains("invalid digest", error.Message);
    }

    [Fact]
    public void UnknownLayerMediaTypesAreRejected()
    {
        var bytes = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"config\":{{\"mediaType\":\"x\",\"digest\":\"sha256:{new string('a', 64)}\",\"size\":1}},\"layers\":[{{\"mediaType\":\"application/x-rar\",\"digest\":\"sha256:{new string('b', 64)}\",\"size\":1}}]}}");
        var error = Assert.Throws<ImageException>(() => ManifestResolver.ParseManifest(new RawManifest(bytes, MediaTypes.OciManifest, Digest.Compute(bytes)), Reference));
        Assert.Contains("has the unsupported media type", error.Message);
    }

    private static char? ChosenMarker(ImageIndex index, Platform platform) => ManifestResolver.ChooseForPlatform(index, platform)?.Digest.Hex[0];

    private static Descriptor Entry(string mediaType, string os, string architecture, string? variant, char marker) => new()
    {
        MediaType = mediaType,
        Digest = Digest.Parse("sha256:" + new string(marker, 64)),
        Size = 1,
        Platform = new ManifestPlatform { Os = os, Architecture = architecture, Variant = variant },
    };

    private sealed class FixedSource(RawManifest root) : IImageSource
    {
        public RawManifest Root { get; } = root;

        /// <summary>Documents served by digest, as a (possibly lying) source claims them.</summary>
        public IReadOnlyDictionary<Digest, byte[]> Documents { get; init; } = new Dictionary<Digest, byte[]>();

        public ImageReference Reference => ManifestResolverTests.Reference;

        public Task<RawManifest> GetManifestAsync(Digest? digest, CancellationToken cancellationToken) =>
            digest is null ? Task.FromResult(Root)
            : Documents.TryGetValue(digest.Value, out var bytes) ? Task.FromResult(new RawManifest(bytes, string.Empty, Digest.Compute(bytes)))
            : throw new ImageException($"manifest unknown {digest}");

        public Task<Stream> OpenBlobUnverifiedAsync(Descriptor blob, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
