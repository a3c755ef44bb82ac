using Kubefly.Images.Registry;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Integration.Registry;

[Trait("Category", "Integration")]
public sealed class RegistryMirrorTests : IDisposable
{
    private readonly RegistryClientFactory _clients = new();
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            owned.Dispose();
        }
    }

    [Fact]
    public async Task A_mirror_that_is_down_falls_back_to_the_origin()
    {
        var origin = Own(DockerRegistryServer.StartPlain());
        using var pusher = origin.CreatePusher();
        var image = await pusher.PushRandomImageAsync("mirrored/app", "v1", layerCount: 1);
        var deadMirror = $"127.0.0.1:{TestPorts.FreeLoopbackPort()}";
        using var client = _clients.Create(Conf(origin.Host, (deadMirror, "")), adjust: o => o with { MaxAttempts = 2 });
        using var source = new RegistrySource(ImageReference.Parse($"{origin.Host}/mirrored/app:v1"), client);

        var manifest = await source.GetManifestAsync(null, CancellationToken.None);
        var layer = await RegistryPullTests.ReadVerifiedAsync(source, image.Layers[0].Descriptor);

        Assert.Equal(image.ManifestDigest, manifest.Digest);
        Assert.Equal(image.Layers[0].Bytes, layer);
        Assert.Equal([$"mirror {deadMirror}", $"registry {origin.Host}"], source.Endpoints.Select(e => e.Description));
        Assert.False(source.CurrentEndpoint.IsMirror);
        Assert.Contains(_clients.Log, line => line.Contains($"mirror {deadMirror} failed", StringComparison.Ordinal) && line.Contains($"trying registry {origin.Host}", StringComparison.Ordinal));
        Assert.Contains(_clients.Log, line => line.Contains($"nothing listens on {deadMirror}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_working_mirror_is_used_first_and_a_stopped_origin_is_never_contacted()
    {
        var originRegistry = Own(DockerRegistryServer.StartPlain());
        originRegistry.Stop();
        var origin = Own(new FaultProxy(originRegistry.Host));
        var mirrorRegistry = Own(DockerRegistryServer.StartPlain());
        var mirror = Own(new FaultProxy(mirrorRegistry.Host));
        using var pusher = mirrorRegistry.CreatePusher();
        var image = await pusher.PushRandomImageAsync("mirrored/app", "v1", layerCount: 2);
        using var client = _clients.Create(Conf(origin.Host, (mirror.Host, "")));
        using var source = new RegistrySource(ImageReference.Parse($"{origin.Host}/mirrored/app:v1"), client);

        var manifest = await source.GetManifestAsync(null, CancellationToken.None);
        foreach (var layer in image.Layers)
        {
            Assert.Equal(layer.Bytes, await RegistryPullTests.ReadVerifiedAsync(source, layer.Descriptor));
        }

        Assert.Equal(image.ManifestDigest, manifest.Digest);
        Assert.True(source.CurrentEndpoint.IsMirror);
        Assert.Empty(origin.Requests);
        Assert.Equal(3, mirror.Requests.Count(r => r.PathAndQuery.StartsWith("/v2/mirrored/app/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_mirror_location_with_a_path_serves_the_repository_under_that_path()
    {
        var mirrorRegistry = Own(DockerRegistryServer.StartPlain());
        using var pusher = mirrorRegistry.CreatePusher();
        var image = await pusher.PushRandomImageAsync("cache/mirrored/app", "v1", layerCount: 1);
        var origin = $"127.0.0.1:{TestPorts.FreeLoopbackPort()}";
        using var client = _clients.Create(Conf(origin, ($"{mirrorRegistry.Host}/cache", "")));
        using var source = new RegistrySource(ImageReference.Parse($"{origin}/mirrored/app:v1"), client);

        var manifest = await source.GetManifestAsync(null, CancellationToken.None);

        Assert.Equal(image.ManifestDigest, manifest.Digest);
        Assert.Equal("cache/mirrored/app", source.CurrentEndpoint.Repository);
    }

    [Fact]
    public async Task A_digest_only_mirror_is_skipped_for_tags_and_used_for_digests()
    {
        var originRegistry = Own(DockerRegistryServer.StartPlain());
        var mirrorRegistry = Own(DockerRegistryServer.StartPlain());
        var mirror = Own(new FaultProxy(mirrorRegistry.Host));
        using var originPusher = originRegistry.CreatePusher();
        using var mirrorPusher = mirrorRegistry.CreatePusher();
        var image = await originPusher.PushRandomImageAsync("mirrored/app", "v1", layerCount: 1);
        await mirrorPusher.PushBlobAsync("mirrored/app", image.Layers[0].Bytes, image.Layers[0].Descriptor.MediaType);
        await mirrorPusher.PushBlobAsync("mirrored/app", image.Config.Bytes, image.Config.Descriptor.MediaType);
        await mirrorPusher.PushManifestAsync("mirrored/app", image.ManifestDigest.ToString(), image.ManifestBytes, image.ManifestMediaType);
        var conf = "mirror-by-digest-only = true\n" + Conf(originRegistry.Host, (mirror.Host, ""))["[[registry]]\n".Length..];
        conf = "[[registry]]\n" + conf;
        using var client = _clients.Create(conf);

        using (var byTag = new RegistrySource(ImageReference.Parse($"{originRegistry.Host}/mirrored/app:v1"), client))
        {
            await byTag.GetManifestAsync(null, CancellationToken.None);
            Assert.Single(byTag.Endpoints);
            Assert.Empty(mirror.Requests);
        }

        using var byDigest = new RegistrySource(ImageReference.Parse($"{originRegistry.Host}/mirrored/app@{image.ManifestDigest}"), client);
        var manifest = await byDigest.GetManifestAsync(null, CancellationToken.None);

        Assert.Equal(image.ManifestDigest, manifest.Digest);
        Assert.True(byDigest.CurrentEndpoint.IsMirror);
        Assert.Contains(mirror.Requests, r => r.PathAndQuery.Contains("/manifests/", StringComparison.Ordinal) && r.Status == 200);
    }

    [Fact]
    public async Task A_blob_missing_on_the_mirror_comes_from_the_origin()
    {
        var originRegistry = Own(DockerRegistryServer.StartPlain());
        var mirrorRegistry = Own(DockerRegistryServer.StartPlain());
        using var originPusher = originRegistry.CreatePusher();
        using var mirrorPusher = mirrorRegistry.CreatePusher();
        var image = await originPusher.PushRandomImageAsync("mirrored/app", "v1", layerCount: 1);
        await mirrorPusher.PushBlobAsync("mirrored/app", image.Layers[0].Bytes, image.Layers[0].Descriptor.MediaType);
        await mirrorPusher.PushBlobAsync("mirrored/app", image.Config.Bytes, image.Config.Descriptor.MediaType);
        await mirrorPusher.PushManifestAsync("mirrored/app", "v1", image.ManifestBytes, image.ManifestMediaType);
        await mirrorPusher.DeleteBlobAsync("mirrored/app", image.Layers[0].Digest);
        using var client = _clients.Create(Conf(originRegistry.Host, (mirrorRegistry.Host, "")));
        using var source = new RegistrySource(ImageReference.Parse($"{originRegistry.Host}/mirrored/app:v1"), client);

        await source.GetManifestAsync(null, CancellationToken.None);
        var layer = await RegistryPullTests.ReadVerifiedAsync(source, image.Layers[0].Descriptor);

        Assert.Equal(image.Layers[0].Bytes, layer);
        Assert.Contains(_clients.Log, line => line.Contains("blob unknown", StringComparison.Ordinal) && line.Contains($"trying registry {originRegistry.Host}", StringComparison.Ordinal));
    }

    private static string Conf(string origin, params (string Location, string Extra)[] mirrors)
    {
        var text = $"[[registry]]\nlocation = \"{origin}\"\ninsecure = true\n";
        foreach (var (location, extra) in mirrors)
        {
            text += $"\n[[registry.mirror]]\nlocation = \"{location}\"\ninsecure = true\n{extra}";
        }

        return text;
    }

    private T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }
}
