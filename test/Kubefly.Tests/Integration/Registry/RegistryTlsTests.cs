using Kubefly.Images.Registry;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Integration.Registry;

[Trait("Category", "Integration")]
public sealed class RegistryTlsTests : IDisposable
{
    private readonly DockerRegistryServer _registry = DockerRegistryServer.StartWithSelfSignedTls();
    private readonly RegistryClientFactory _clients = new();

    public void Dispose() => _registry.Dispose();

    [Fact]
    public async Task An_untrusted_certificate_is_refused_with_a_clear_error()
    {
        await PushAsync();
        using var client = _clients.Create(string.Empty);
        using var source = new RegistrySource(ImageReference.Parse($"{_registry.Host}/tls/app:v1"), client);

        var error = await Assert.ThrowsAsync<ImageException>(() => source.GetManifestAsync(null, CancellationToken.None));

        Assert.Contains($"cannot talk https to {_registry.Host}", error.Message, StringComparison.Ordinal);
        Assert.Contains("TLS handshake failed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Insecure_options_tls_skips_certificate_verification()
    {
        var image = await PushAsync();
        using var client = _clients.Create(string.Empty, adjust: o => o with { Insecure = InsecureOptions.Tls });
        using var source = new RegistrySource(ImageReference.Parse($"{_registry.Host}/tls/app:v1"), client);

        var manifest = await source.GetManifestAsync(null, CancellationToken.None);

        Assert.Equal(image.ManifestDigest, manifest.Digest);
    }

    [Fact]
    public async Task Insecure_options_http_does_not_skip_certificate_verification()
    {
        await PushAsync();
        using var client = _clients.Create(string.Empty, adjust: o => o with { Insecure = InsecureOptions.Http });
        using var source = new RegistrySource(ImageReference.Parse($"{_registry.Host}/tls/app:v1"), client);

        // https fails on the certificate, then plain http meets a TLS server: no way in without trusting it.
        await Assert.ThrowsAsync<ImageException>(() => source.GetManifestAsync(null, CancellationToken.None));
    }

    [Fact]
    public async Task An_insecure_registry_still_speaks_https_when_it_can()
    {
        var image = await PushAsync();
        using var client = _clients.CreateInsecure(_registry.Host);
        using var source = new RegistrySource(ImageReference.Parse($"{_registry.Host}/tls/app:v1"), client);

        var manifest = await source.GetManifestAsync(null, CancellationToken.None);
        var layer = await RegistryPullTests.ReadVerifiedAsync(source, image.Layers[0].Descriptor);

        Assert.Equal(image.ManifestDigest, manifest.Digest);
        Assert.Equal(image.Layers[0].Bytes, layer);
        Assert.DoesNotContain(_clients.Log, line => line.Contains("plain http", StringComparison.Ordinal));
    }

    private async Task<PushedImage> PushAsync()
    {
        using var pusher = _registry.CreatePusher();
        return await pusher.PushRandomImageAsync("tls/app", "v1", layerCount: 1);
    }
}
