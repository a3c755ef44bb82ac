using System.Text;
using Kubefly.Images.Registry;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Integration.Registry;

[Trait("Category", "Integration")]
public sealed class RegistryFaultTests : IDisposable
{
    private readonly DockerRegistryServer _registry = DockerRegistryServer.StartPlain();
    private readonly FaultProxy _proxy;
    private readonly RegistryClientFactory _clients = new();

    public RegistryFaultTests() => _proxy = new FaultProxy(_registry.Host);

    public void Dispose()
    {
        _proxy.Dispose();
        _registry.Dispose();
    }

    [Fact]
    public async Task A_connection_dropped_mid_blob_is_resumed_with_a_range_and_the_content_verifies()
    {
        var image = await PushAsync("faults/resume", layerSize: 512 * 1024);
        var layer = image.Layers[0];
        _proxy.Add(ProxyFault.DropAfter(200_000));
        using var client = _clients.CreateInsecure(_proxy.Host);
        using var source = Source(client, "faults/resume:v1");

        var bytes = await RegistryPullTests.ReadVerifiedAsync(source, layer.Descriptor);

        Assert.Equal(layer.Bytes, bytes);
        var blobRequests = _proxy.Requests.Where(r => r.PathAndQuery.Contains(layer.Digest.ToString(), StringComparison.Ordinal)).ToList();
        Assert.Equal(2, blobRequests.Count);
        Assert.Equal(nameof(FaultKind.DropAfterBytes), blobRequests[0].Fault);
        Assert.Null(blobRequests[0].Range);
        Assert.StartsWith("bytes=", blobRequests[1].Range, StringComparison.Ordinal);
        Assert.Equal(206, blobRequests[1].Status);
        Assert.Contains(_clients.Log, line => line.Contains("resuming", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_resume_answered_with_the_whole_body_skips_what_was_already_read()
    {
        var image = await PushAsync("faults/norange", layerSize: 512 * 1024);
        var layer = image.Layers[0];
        _proxy.Add(ProxyFault.DropAfter(150_000));
        _proxy.Add(ProxyFault.IgnoreRange());
        using var client = _clients.CreateInsecure(_proxy.Host);
        using var source = Source(client, "faults/norange:v1");

        var bytes = await RegistryPullTests.ReadVerifiedAsync(source, layer.Descriptor);

        Assert.Equal(layer.Bytes, bytes);
        var resumed = _proxy.Requests.Where(r => r.PathAndQuery.Contains(layer.Digest.ToString(), StringComparison.Ordinal)).Last();
        Assert.Equal((nameof(FaultKind.IgnoreRange), 200), (resumed.Fault, resumed.Status));
        Assert.StartsWith("bytes=", resumed.Range, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Repeated_drops_give_up_after_the_bounded_number_of_resumes()
    {
        var image = await PushAsync("faults/hopeless", layerSize: 256 * 1024);
        _proxy.Add(ProxyFault.DropAfter(10_000, times: 100));
        using var client = _clients.Create(RegistryClientFactory.InsecureRegistriesConf(_proxy.Host), adjust: o => o with { MaxBlobResumes = 2 });
        using var source = Source(client, "faults/hopeless:v1");

        var error = await Assert.ThrowsAsync<ImageException>(() => RegistryPullTests.ReadVerifiedAsync(source, image.Layers[0].Descriptor));

        Assert.Contains("after 2 resumes", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, _proxy.Requests.Count(r => r.PathAndQuery.Contains("/blobs/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Server_errors_are_retried_until_success()
    {
        var image = await PushAsync("faults/flaky");
        _proxy.Add(ProxyFault.Answer(500, times: 2, pathContains: "/manifests/"));
        using var client = _clients.CreateInsecure(_proxy.Host);
        using var source = Source(client, "faults/flaky:v1");

        var manifest = await source.GetManifestAsync(null, CancellationToken.None);

        Assert.Equal(image.ManifestDigest, manifest.Digest);
        var statuses = _proxy.Requests.Where(r => r.PathAndQuery.Contains("/manifests/", StringComparison.Ordinal)).Select(r => r.Status).ToList();
        Assert.Equal([500, 500, 200], statuses);
    }

    [Fact]
    public async Task Retries_stop_after_the_maximum_number_of_attempts()
    {
        await PushAsync("faults/down");
        _proxy.Add(ProxyFault.Answer(503, times: 100, pathContains: "/manifests/"));
        using var client = _clients.Create(RegistryClientFactory.InsecureRegistriesConf(_proxy.Host), adjust: o => o with { MaxAttempts = 3 });
        using var source = Source(client, "faults/down:v1");

        var error = await Assert.ThrowsAsync<ImageException>(() => source.GetManifestAsync(null, CancellationToken.None));

        Assert.Contains("503", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, _proxy.Requests.Count(r => r.PathAndQuery.Contains("/manifests/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Too_many_requests_waits_as_long_as_retry_after_says()
    {
        var image = await PushAsync("faults/busy");
        _proxy.Add(ProxyFault.Answer(429, times: 1, pathContains: "/blobs/", retryAfter: "1"));
        using var client = _clients.CreateInsecure(_proxy.Host);
        using var source = Source(client, "faults/busy:v1");

        var bytes = await RegistryPullTests.ReadVerifiedAsync(source, image.Layers[0].Descriptor);

        Assert.Equal(image.Layers[0].Bytes, bytes);
        // The configured backoff is 20 ms; only Retry-After explains a one-second wait.
        Assert.Contains(_clients.Log, line => line.Contains("429", StringComparison.Ordinal) && line.Contains("retrying in 1.0s", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Corrupted_blob_bytes_are_rejected_by_the_digesting_stream()
    {
        var image = await PushAsync("faults/corrupt");
        _proxy.Add(ProxyFault.Corrupt());
        using var client = _clients.CreateInsecure(_proxy.Host);
        using var source = Source(client, "faults/corrupt:v1");

        var error = await Assert.ThrowsAsync<DigestMismatchException>(() => RegistryPullTests.ReadVerifiedAsync(source, image.Layers[0].Descriptor));

        Assert.Equal(image.Layers[0].Digest, error.Expected);
    }

    [Fact]
    public async Task Manifest_bytes_that_do_not_match_the_requested_digest_are_rejected()
    {
        var image = await PushAsync("faults/swapped");
        var other = await PushAsync("faults/other");
        _proxy.Add(ProxyFault.Replace(MediaTypes.OciManifest, other.ManifestBytes));
        using var client = _clients.CreateInsecure(_proxy.Host);
        using var source = Source(client, $"faults/swapped@{image.ManifestDigest}");

        var error = await Assert.ThrowsAsync<DigestMismatchException>(() => source.GetManifestAsync(null, CancellationToken.None));

        Assert.Equal(image.ManifestDigest, error.Expected);
        Assert.Equal(other.ManifestDigest, error.Actual);
    }

    [Fact]
    public async Task A_body_media_type_differing_from_content_type_is_rejected()
    {
        var image = await PushAsync("faults/mislabelled");
        _proxy.Add(ProxyFault.Replace(MediaTypes.DockerManifest, image.ManifestBytes));
        using var client = _clients.CreateInsecure(_proxy.Host);
        using var source = Source(client, "faults/mislabelled:v1");

        var error = await Assert.ThrowsAsync<ImageException>(() => source.GetManifestAsync(null, CancellationToken.None));

        Assert.Contains("differs from its Content-Type", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Schema1_manifests_are_refused_naming_the_image()
    {
        var schema1 = Encoding.UTF8.GetBytes("""{"schemaVersion":1,"name":"faults/old","tag":"v1","architecture":"amd64","fsLayers":[],"history":[]}""");
        _proxy.Add(ProxyFault.Replace(MediaTypes.DockerManifestSchema1Signed, schema1));
        using var client = _clients.CreateInsecure(_proxy.Host);
        using var source = Source(client, "faults/old:v1");

        var error = await Assert.ThrowsAsync<ImageException>(() => source.GetManifestAsync(null, CancellationToken.None));

        Assert.Contains("schema1 manifests are not supported", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{_proxy.Host}/faults/old:v1", error.Message, StringComparison.Ordinal);
    }

    private async Task<PushedImage> PushAsync(string repository, int layerSize = 64 * 1024)
    {
        using var pusher = _registry.CreatePusher();
        return await pusher.PushRandomImageAsync(repository, "v1", layerCount: 1, layerSize: layerSize);
    }

    private RegistrySource Source(RegistryClient client, string nameAndReference) =>
        new(ImageReference.Parse($"{_proxy.Host}/{nameAndReference}"), client);
}
