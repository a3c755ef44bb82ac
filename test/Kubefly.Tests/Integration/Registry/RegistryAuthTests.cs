using System.Text;
using Kubefly.Images.Registry;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Integration.Registry;

[Trait("Category", "Integration")]
public sealed class RegistryAuthTests : IDisposable
{
    private readonly RegistryClientFactory _clients = new();
    private readonly List<IDisposable> _owned = [];
    private readonly string _directory = TestPorts.NewTempDirectory("registry-auth");

    public void Dispose()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            owned.Dispose();
        }

        TestPorts.DeleteDirectory(_directory);
    }

    [Fact]
    public async Task Anonymous_bearer_token_is_fetched_once_for_the_repository_scope_and_reused()
    {
        var (tokens, registry) = StartTokenRegistry(credentials: null);
        using var pusher = registry.CreatePusher();
        var image = await pusher.PushRandomImageAsync("ns/app", "v1", layerCount: 3);
        using var client = _clients.CreateInsecure(registry.Host);
        using var source = new RegistrySource(ImageReference.Parse($"{registry.Host}/ns/app:v1"), client);

        await source.GetManifestAsync(null, CancellationToken.None);
        foreach (var layer in image.Layers.Append(image.Config))
        {
            Assert.Equal(layer.Bytes, await RegistryPullTests.ReadVerifiedAsync(source, layer.Descriptor));
        }

        var request = Assert.Single(tokens.Requests);
        Assert.Equal(tokens.Service, request.Service);
        // The registry's host:port never leaks into the scope: it names the repository only.
        Assert.Equal(["repository:ns/app:pull"], request.Scopes);
        Assert.Null(request.Authorization);
    }

    /// <summary>Regression: token requests bypassed the retry and redirect handlers the registry's own requests get.</summary>
    [Theory]
    [InlineData("unavailable once")]
    [InlineData("unavailable twice")]
    [InlineData("redirected")]
    public async Task A_token_service_that_answers_503_or_redirects_is_retried_and_followed(string fault)
    {
        var (tokens, registry) = StartTokenRegistry(credentials: null);
        using var pusher = registry.CreatePusher();
        var image = await pusher.PushRandomImageAsync("ns/flaky", "v1", layerCount: 1);
        tokens.UnavailableFor = fault switch { "unavailable once" => 1, "unavailable twice" => 2, _ => 0 };
        tokens.RedirectFor = fault == "redirected" ? 1 : 0;
        using var client = _clients.CreateInsecure(registry.Host);
        using var source = new RegistrySource(ImageReference.Parse($"{registry.Host}/ns/flaky:v1"), client);

        var manifest = await source.GetManifestAsync(null, CancellationToken.None);

        Assert.Equal(image.ManifestDigest, manifest.Digest);
        Assert.Equal(fault == "unavailable twice" ? 3 : 2, tokens.Requests.Count);
        Assert.Equal(System.Net.HttpStatusCode.OK, tokens.Requests[^1].Status);
    }

    [Fact]
    public async Task An_access_token_only_answer_is_accepted()
    {
        var (tokens, registry) = StartTokenRegistry(credentials: null);
        tokens.AccessTokenOnly = true;
        tokens.ExpiresInSeconds = 10;
        using var pusher = registry.CreatePusher();
        var image = await pusher.PushRandomImageAsync("ns/oauth", "v1", layerCount: 1);
        using var client = _clients.CreateInsecure(registry.Host);
        using var source = new RegistrySource(ImageReference.Parse($"{registry.Host}/ns/oauth:v1"), client);

        var manifest = await source.GetManifestAsync(null, CancellationToken.None);
        await RegistryPullTests.ReadVerifiedAsync(source, image.Layers[0].Descriptor);

        Assert.Equal(image.ManifestDigest, manifest.Digest);
        // expires_in 10 counts as 60 s, so the token is still reused for the blob.
        Assert.Single(tokens.Requests);
    }

    [Fact]
    public async Task Bearer_token_is_fetched_with_credentials_from_an_auth_file()
    {
        var (tokens, registry) = StartTokenRegistry(credentials: ("bob", "s3cret:with:colons"));
        using var pusher = registry.CreatePusher();
        var image = await pusher.PushRandomImageAsync("ns/private", "v1", layerCount: 1);
        var store = WriteAuthFile(registry.Host, "bob", "s3cret:with:colons");
        using var client = _clients.Create(RegistryClientFactory.InsecureRegistriesConf(registry.Host), store);
        using var source = new RegistrySource(ImageReference.Parse($"{registry.Host}/ns/private:v1"), client);

        var manifest = await source.GetManifestAsync(null, CancellationToken.None);

        Assert.Equal(image.ManifestDigest, manifest.Digest);
        var request = Assert.Single(tokens.Requests);
        Assert.Equal("bob", request.User);
        Assert.Equal(["repository:ns/private:pull"], request.Scopes);
    }

    [Fact]
    public async Task A_wrong_password_for_the_token_service_is_a_clear_error()
    {
        var (_, registry) = StartTokenRegistry(credentials: ("bob", "right"));
        using var pusher = registry.CreatePusher();
        await pusher.PushRandomImageAsync("ns/private", "v1", layerCount: 1);
        var store = WriteAuthFile(registry.Host, "bob", "wrong");
        using var client = _clients.Create(RegistryClientFactory.InsecureRegistriesConf(registry.Host), store);
        using var source = new RegistrySource(ImageReference.Parse($"{registry.Host}/ns/private:v1"), client);

        var error = await Assert.ThrowsAsync<RegistryAuthenticationException>(() => source.GetManifestAsync(null, CancellationToken.None));

        Assert.Contains("token service", error.Message, StringComparison.Ordinal);
        Assert.Contains("401", error.Message, StringComparison.Ordinal);
        Assert.Contains("bob", error.Message, StringComparison.Ordinal);
        Assert.Contains(registry.Host, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Anonymous_pull_from_a_token_registry_needing_credentials_is_a_clear_error()
    {
        var (_, registry) = StartTokenRegistry(credentials: ("bob", "right"));
        using var client = _clients.CreateInsecure(registry.Host);
        using var source = new RegistrySource(ImageReference.Parse($"{registry.Host}/ns/private:v1"), client);

        var error = await Assert.ThrowsAsync<RegistryAuthenticationException>(() => source.GetManifestAsync(null, CancellationToken.None));

        Assert.Contains("anonymously", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Basic_auth_registry_gets_credentials_on_every_request()
    {
        var registry = Own(DockerRegistryServer.StartWithBasicAuth("alice", "pa55"));
        using var pusher = registry.CreatePusher();
        var image = await pusher.PushRandomImageAsync("ns/basic", "v1", layerCount: 2);
        var proxy = Own(new FaultProxy(registry.Host));
        var store = WriteAuthFile(proxy.Host, "alice", "pa55");
        using var client = _clients.Create(RegistryClientFactory.InsecureRegistriesConf(proxy.Host), store);
        using var source = new RegistrySource(ImageReference.Parse($"{proxy.Host}/ns/basic:v1"), client);

        var manifest = await source.GetManifestAsync(null, CancellationToken.None);
        foreach (var layer in image.Layers)
        {
            Assert.Equal(layer.Bytes, await RegistryPullTests.ReadVerifiedAsync(source, layer.Descriptor));
        }

        Assert.Equal(image.ManifestDigest, manifest.Digest);
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:pa55"));
        var repositoryRequests = proxy.Requests.Where(r => r.PathAndQuery.StartsWith("/v2/ns/", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, repositoryRequests.Count);
        Assert.All(repositoryRequests, r => Assert.Equal(expected, r.Authorization));
    }

    [Fact]
    public async Task Basic_auth_with_a_wrong_password_is_a_clear_error()
    {
        var registry = Own(DockerRegistryServer.StartWithBasicAuth("alice", "pa55"));
        using var pusher = registry.CreatePusher();
        await pusher.PushRandomImageAsync("ns/basic", "v1", layerCount: 1);
        var store = WriteAuthFile(registry.Host, "alice", "nope");
        using var client = _clients.Create(RegistryClientFactory.InsecureRegistriesConf(registry.Host), store);
        using var source = new RegistrySource(ImageReference.Parse($"{registry.Host}/ns/basic:v1"), client);

        var error = await Assert.ThrowsAsync<RegistryAuthenticationException>(() => source.GetManifestAsync(null, CancellationToken.None));

        Assert.Contains("refused the credentials of alice", error.Message, StringComparison.Ordinal);
        Assert.Contains(store.Files[0], error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Basic_auth_without_credentials_says_none_were_found()
    {
        var registry = Own(DockerRegistryServer.StartWithBasicAuth("alice", "pa55"));
        using var client = _clients.CreateInsecure(registry.Host);
        using var source = new RegistrySource(ImageReference.Parse($"{registry.Host}/ns/basic:v1"), client);

        var error = await Assert.ThrowsAsync<RegistryAuthenticationException>(() => source.GetManifestAsync(null, CancellationToken.None));

        Assert.Contains("requires authentication", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_redirect_to_another_host_never_carries_the_authorization()
    {
        var (_, registry) = StartTokenRegistry(credentials: null);
        var other = Own(DockerRegistryServer.StartPlain());
        using var pusher = registry.CreatePusher();
        using var otherPusher = other.CreatePusher();
        var image = await pusher.PushRandomImageAsync("ns/redirected", "v1", layerCount: 1);
        await otherPusher.PushBlobAsync("ns/redirected", image.Layers[0].Bytes, image.Layers[0].Descriptor.MediaType);
        var target = Own(new FaultProxy(other.Host));
        var front = Own(new FaultProxy(registry.Host));
        front.Add(ProxyFault.RedirectTo(target.Host));
        using var client = _clients.CreateInsecure(front.Host, target.Host);
        using var source = new RegistrySource(ImageReference.Parse($"{front.Host}/ns/redirected:v1"), client);

        await source.GetManifestAsync(null, CancellationToken.None);
        var bytes = await RegistryPullTests.ReadVerifiedAsync(source, image.Layers[0].Descriptor);

        Assert.Equal(image.Layers[0].Bytes, bytes);
        var redirected = Assert.Single(front.Requests, r => r.Fault == nameof(FaultKind.Redirect));
        Assert.StartsWith("Bearer ", redirected.Authorization, StringComparison.Ordinal);
        var served = Assert.Single(target.Requests);
        Assert.Contains("/blobs/", served.PathAndQuery, StringComparison.Ordinal);
        Assert.Null(served.Authorization);
    }

    private (TokenServer Tokens, DockerRegistryServer Registry) StartTokenRegistry((string, string)? credentials)
    {
        var tokens = Own(new TokenServer(credentials: credentials));
        var registry = Own(DockerRegistryServer.StartWithTokenAuth(tokens));
        return (tokens, registry);
    }

    private CredentialStore WriteAuthFile(string host, string user, string password)
    {
        var path = Path.Combine(_directory, $"auth-{Guid.NewGuid():N}.json");
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
        File.WriteAllText(path, "{\"auths\": {\"" + host + "\": {\"auth\": \"" + auth + "\"}}}");
        return new CredentialStore([path]);
    }

    private T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }
}
