using Kubefly.Images.Registry;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Integration.Registry;

[Trait("Category", "Integration")]
public sealed class RegistryPullTests : IDisposable
{
    private readonly DockerRegistryServer _registry = DockerRegistryServer.StartPlain();
    private readonly RegistryClientFactory _clients = new();

    public void Dispose() => _registry.Dispose();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Pulls_the_manifest_by_tag_and_by_digest_with_the_bytes_pushed(bool oci)
    {
        using var pusher = _registry.CreatePusher();
        var image = await pusher.PushRandomImageAsync("team/app", "v1", oci: oci);
        using var client = _clients.CreateInsecure(_registry.Host);
        using var source = new RegistrySource(ImageReference.Parse($"{_registry.Host}/team/app:v1"), client);

        var byTag = await source.GetManifestAsync(null, CancellationToken.None);
        var byDigest = await source.GetManifestAsync(image.ManifestDigest, CancellationToken.None);

        Assert.Equal(image.ManifestBytes, byTag.Bytes);
        Assert.Equal(image.ManifestDigest, byTag.Digest);
        Assert.Equal(image.ManifestMediaType, byTag.MediaType);
        Assert.Equal(image.ManifestBytes, byDigest.Bytes);
        Assert.Equal(image.ManifestDigest, byDigest.Digest);
    }

    [Fact]
    public async Task Pulls_by_a_digest_reference()
    {
        using var pusher = _registry.CreatePusher();
        var image = await pusher.PushRandomImageAsync("team/pinned", "v1");
        using var client = _clients.CreateInsecure(_registry.Host);
        using var source = new RegistrySource(ImageReference.Parse($"{_registry.Host}/team/pinned@{image.ManifestDigest}"), client);

        var manifest = await source.GetManifestAsync(null, CancellationToken.None);

        Assert.Equal(image.ManifestDigest, manifest.Digest);
    }

    [Fact]
    public async Task Blobs_stream_the_pushed_bytes_and_verify()
    {
        using var pusher = _registry.CreatePusher();
        var image = await pusher.PushRandomImageAsync("team/blobs", "v1", layerCount: 3, layerSize: 200 * 1024);
        using var client = _clients.CreateInsecure(_registry.Host);
        using var source = new RegistrySource(ImageReference.Parse($"{_registry.Host}/team/blobs:v1"), client);

        foreach (var blob in image.Layers.Append(image.Config))
        {
            var bytes = await ReadVerifiedAsync(source, blob.Descriptor);
            Assert.Equal(blob.Bytes, bytes);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_index_or_manifest_list_is_returned_as_such_and_its_children_by_digest(bool oci)
    {
        using var pusher = _registry.CreatePusher();
        var index = await pusher.PushRandomIndexAsync("team/multi", "latest", [new Platform("linux", "amd64"), new Platform("linux", "arm64", "v8"), new Platform("linux", "arm", "v7")], oci);
        using var client = _clients.CreateInsecure(_registry.Host);
        using var source = new RegistrySource(ImageReference.Parse($"{_registry.Host}/team/multi"), client);

        var top = await source.GetManifestAsync(null, CancellationToken.None);
        Assert.Equal(oci ? MediaTypes.OciIndex : MediaTypes.DockerManifestList, top.MediaType);
        Assert.Equal(index.Digest, top.Digest);
        var parsed = System.Text.Json.JsonSerializer.Deserialize(top.Bytes, OciJsonContext.Default.ImageIndex)!;
        Assert.Equal(3, parsed.Manifests.Count);

        var arm = parsed.Manifests.Single(m => m.Platform?.Architecture == "arm");
        var child = await source.GetManifestAsync(arm.Digest, CancellationToken.None);
        Assert.Equal(index.Images[2].ManifestBytes, child.Bytes);
        Assert.Equal(oci ? MediaTypes.OciManifest : MediaTypes.DockerManifest, child.MediaType);
    }

    [Fact]
    public async Task A_missing_tag_is_manifest_unknown_naming_image_and_registry()
    {
        using var client = _clients.CreateInsecure(_registry.Host);
        using var source = new RegistrySource(ImageReference.Parse($"{_registry.Host}/team/absent:nope"), client);

        var error = await Assert.ThrowsAsync<ManifestUnknownException>(() => source.GetManifestAsync(null, CancellationToken.None));

        Assert.Contains("manifest unknown", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{_registry.Host}/team/absent:nope", error.Message, StringComparison.Ordinal);
        Assert.Contains($"registry {_registry.Host}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_http_needs_the_registry_marked_insecure()
    {
        using var pusher = _registry.CreatePusher();
        await pusher.PushRandomImageAsync("team/http", "v1", layerCount: 1);
        using var client = _clients.Create(string.Empty);
        using var source = new RegistrySource(ImageReference.Parse($"{_registry.Host}/team/http:v1"), client);

        var error = await Assert.ThrowsAsync<ImageException>(() => source.GetManifestAsync(null, CancellationToken.None));

        Assert.Contains("cannot talk https", error.Message, StringComparison.Ordinal);
        Assert.Contains("insecure = true", error.Message, StringComparison.Ordinal);
        Assert.Contains(_registry.Host, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Insecure_options_http_allows_plain_http_without_registries_conf()
    {
        using var pusher = _registry.CreatePusher();
        var image = await pusher.PushRandomImageAsync("team/http", "v1", layerCount: 1);
        using var client = _clients.Create(string.Empty, adjust: o => o with { Insecure = InsecureOptions.Http });
        using var source = new RegistrySource(ImageReference.Parse($"{_registry.Host}/team/http:v1"), client);

        var manifest = await source.GetManifestAsync(null, CancellationToken.None);

        Assert.Equal(image.ManifestDigest, manifest.Digest);
    }

    [Fact]
    public void A_blocked_registry_is_refused_before_any_request()
    {
        var conf = $"[[registry]]\nlocation = \"{_registry.Host}\"\ninsecure = true\nblocked = true\n";
        using var client = _clients.Create(conf);

        var error = Assert.Throws<ImageException>(() => new RegistrySource(ImageReference.Parse($"{_registry.Host}/team/app:v1"), client));

        Assert.Contains("blocked", error.Message, StringComparison.Ordinal);
        Assert.Contains(_registry.Host, error.Message, StringComparison.Ordinal);
    }

    internal static async Task<byte[]> ReadVerifiedAsync(Kubefly.Images.Sources.IImageSource source, Descriptor blob)
    {
        await using var unverified = await source.OpenBlobUnverifiedAsync(blob, CancellationToken.None);
        await using var verifying = new DigestingStream(unverified, $"blob {blob.Digest}", blob.Digest, blob.Size);
        using var copy = new MemoryStream();
        await verifying.CopyToAsync(copy);
        return copy.ToArray();
    }
}
