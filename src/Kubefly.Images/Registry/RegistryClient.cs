using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Text;
using System.Text.Json;
using Kubefly.Images.Sources;
using Kubefly.Oci;

namespace Kubefly.Images.Registry;

/// <summary>
/// Talks the OCI distribution API (v1.1) to registries: pings, manifests, blobs. Requests go through a
/// handler chain (redirects it follows itself, retries, authentication) over one pooled socket handler.
/// Which endpoints serve an image (mirrors, then the origin) comes from registries.conf.
/// </summary>
public sealed class RegistryClient : IDisposable
{
    /// <summary>Manifests larger than this are refused (the distribution spec suggests 4 MiB).</summary>
    public const int MaxManifestBytes = 4 << 20;

    private const int MaxErrorBodyBytes = 4096;

    private readonly RegistryClientOptions _options;
    private readonly HttpClient _http;
    private readonly AuthHandler _auth;
    private readonly HttpMessageInvoker _tokens;
    private readonly ConcurrentDictionary<string, Uri> _baseUris = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, bool> _insecureHosts = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Hosts whose certificate this client refused, and why: such a host speaks TLS, so plain http is no fallback.</summary>
    private readonly ConcurrentDictionary<string, SslPolicyErrors> _refusedCertificates = new(StringComparer.OrdinalIgnoreCase);

    public RegistryClient(RegistryClientOptions options)
    {
        _options = options;
        var sockets = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            MaxConnectionsPerServer = 16,
            UseCookies = false,
            UseProxy = true,
        };
        sockets.SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = ValidateCertificate };
        _auth = new AuthHandler(options) { InnerHandler = sockets };
        var retry = new RetryHandler(options) { InnerHandler = _auth };
        var redirect = new RedirectHandler(options) { InnerHandler = retry };
        _http = new HttpClient(redirect, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };

        // Token requests get the same redirect and retry handling, over the same connections (the
        // shared SocketsHttpHandler is disposed with _http).
        _tokens = new HttpMessageInvoker(new RedirectHandler(options) { InnerHandler = new RetryHandler(options) { InnerHandler = new SharedHandler(sockets) } }, disposeHandler: false);
        _auth.TokenSender = _tokens;
        _http.DefaultRequestHeaders.UserAgent.TryParseAdd(options.UserAgent);
    }

    public RegistryClientOptions Options => _options;

    /// <summary>
    /// The endpoints to try for <paramref name="reference"/>, in order: its registry's mirrors (digest-only
    /// mirrors only for digest references), then the origin. Throws when registries.conf blocks the registry.
    /// </summary>
    public IReadOnlyList<RegistryEndpoint> ResolveEndpoints(ImageReference reference)
    {
        if (reference.Transport != ImageTransport.Docker)
        {
            throw new ArgumentException($"{reference} is not a registry reference", nameof(reference));
        }

        var name = $"{reference.Registry}/{reference.Repository}";
        var entry = _options.RegistriesConf.Find(name);
        var allowHttp = _options.Insecure.HasFlag(InsecureOptions.Http);
        if (entry is null)
        {
            return [Endpoint(name, allowHttp, configuredInsecure: false, isMirror: false)];
        }

        if (entry.Blocked)
        {
            throw new ImageException($"{reference}: registry {reference.Registry} is blocked by prefix \"{entry.Prefix}\" in {_options.RegistriesConf.Source}");
        }

        var endpoints = new List<RegistryEndpoint>();
        var byDigest = reference.Digest is not null;
        if (byDigest || !entry.MirrorByDigestOnly)
        {
            foreach (var mirror in entry.Mirrors.Where(m => m.Serves(byDigest)))
            {
                endpoints.Add(Endpoint(Rewrite(name, entry, mirror.Location), mirror.Insecure || allowHttp, mirror.Insecure, isMirror: true));
            }
        }

        var origin = entry.IsWildcard || entry.Location.Length == 0 ? name : Rewrite(name, entry, entry.Location);
        endpoints.Add(Endpoint(origin, entry.Insecure || allowHttp, entry.Insecure, isMirror: false));
        return endpoints;
    }

    /// <summary>
    /// A manifest or index by tag or digest. The bytes are hashed as received; by digest they must match;
    /// a <c>mediaType</c> in the body must agree with Content-Type; schema1 is refused.
    /// </summary>
    /// <param name="image">The image it belongs to, for messages.</param>
    public async Task<RawManifest> GetManifestAsync(RegistryEndpoint endpoint, string tagOrDigest, ImageReference image, CancellationToken cancellationToken)
    {
        Digest? expected = null;
        if (tagOrDigest.Contains(':', StringComparison.Ordinal))
        {
            expected = Digest.Parse(tagOrDigest);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        var uri = await ApiUriAsync(endpoint, $"manifests/{tagOrDigest}", timeout.Token).ConfigureAwait(false);
        using var request = NewRequest(HttpMethod.Get, uri, endpoint);
        foreach (var accepted in MediaTypes.ManifestAccept)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accepted));
        }

        using var response = await SendAsync(request, endpoint, timeout.Token, cancellationToken).ConfigureAwait(false);
        var what = $"manifest {tagOrDigest} of {image} from {endpoint.Description}";
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            throw new ManifestUnknownException($"{image}: manifest unknown: {endpoint.Description} has no {endpoint.Repository}:{tagOrDigest}{await ErrorDetailAsync(response, cancellationToken).ConfigureAwait(false)}");
        }

        await EnsureSuccessAsync(response, what, endpoint, cancellationToken).ConfigureAwait(false);
        var bytes = await AuthHandler.ReadCappedAsync(response, MaxManifestBytes, timeout.Token).ConfigureAwait(false)
            ?? throw new ImageException($"{what}: larger than {MaxManifestBytes} bytes");
        var digest = Digest.Compute(bytes);
        if (expected is { } wanted && !wanted.FixedTimeEquals(digest))
        {
            throw new DigestMismatchException(what, wanted, digest);
        }

        var mediaType = ManifestMediaType(bytes, response.Content.Headers.ContentType?.MediaType, what, image);
        return new RawManifest(bytes, mediaType, digest);
    }

    /// <summary>
    /// A blob's bytes as the registry sends them, resuming after dropped connections. Not verified: read
    /// it through a <see cref="DigestingStream"/>.
    /// </summary>
    public async Task<Stream> OpenBlobUnverifiedAsync(RegistryEndpoint endpoint, Descriptor blob, ImageReference image, CancellationToken cancellationToken)
    {
        var uri = await ApiUriAsync(endpoint, $"blobs/{blob.Digest}", cancellationToken).ConfigureAwait(false);
        var what = $"blob {blob.Digest} of {image} from {endpoint.Description}";
        return await ResumableBlobStream.OpenAsync(OpenAt, blob.Size > 0 ? blob.Size : -1, what, _options, cancellationToken).ConfigureAwait(false);

        async Task<HttpResponseMessage> OpenAt(long offset, CancellationToken token)
        {
            using var request = NewRequest(HttpMethod.Get, uri, endpoint);
            if (offset > 0)
            {
                request.Headers.Range = new RangeHeaderValue(offset, null);
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(_options.RequestTimeout);
            var response = await SendAsync(request, endpoint, timeout.Token, token, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
            try
            {
                if (response.StatusCode == HttpStatusCode.NotFound)
                {
                    throw new ImageException($"{what}: blob unknown{await ErrorDetailAsync(response, token).ConfigureAwait(false)}");
                }

                await EnsureSuccessAsync(response, what, endpoint, token).ConfigureAwait(false);
                return response;
            }
            catch
            {
                response.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// Parts of a blob by HTTP range request (multipart when more than one range). A registry that
    /// answers anything but a 206 with exactly the ranges asked for gets a refusal back, not an error:
    /// the caller then fetches the blob whole.
    /// </summary>
    public async Task<RangeReadResult> ReadRangesAsync(RegistryEndpoint endpoint, Descriptor blob, IReadOnlyList<ByteRange> ranges, ImageReference image, Func<long, ReadOnlyMemory<byte>, CancellationToken, ValueTask> write, CancellationToken cancellationToken)
    {
        var uri = await ApiUriAsync(endpoint, $"blobs/{blob.Digest}", cancellationToken).ConfigureAwait(false);
        using var request = NewRequest(HttpMethod.Get, uri, endpoint);
        var header = new RangeHeaderValue();
        foreach (var range in ranges)
        {
            header.Ranges.Add(new RangeItemHeaderValue(range.Start, range.End - 1));
        }

        request.Headers.Range = header;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        using var response = await SendAsync(request, endpoint, timeout.Token, cancellationToken, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.PartialContent)
        {
            return new RangeReadResult($"{endpoint.Description} answered {(int)response.StatusCode} to a range request for blob {blob.Digest}", 0);
        }

        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            var contentType = response.Content.Headers.ContentType;
            long read;
            if (contentType?.MediaType?.Equals("multipart/byteranges", StringComparison.OrdinalIgnoreCase) == true)
            {
                var boundary = contentType.Parameters.FirstOrDefault(p => p.Name.Equals("boundary", StringComparison.OrdinalIgnoreCase))?.Value?.Trim('"') ?? string.Empty;
                read = await MultipartByteRanges.ReadMultipartAsync(body, boundary, blob.Size, ranges, write, timeout.Token).ConfigureAwait(false);
            }
            else
            {
                var contentRange = response.Content.Headers.TryGetValues("Content-Range", out var values) ? values.FirstOrDefault() : null;
                read = await MultipartByteRanges.ReadSinglePartAsync(body, contentRange, blob.Size, ranges, write, timeout.Token).ConfigureAwait(false);
            }

            return new RangeReadResult(null, read);
        }
        catch (RangeAnswerException e)
        {
            return new RangeReadResult($"{endpoint.Description}'s answer to a range request for blob {blob.Digest} is unusable: {e.Message}", 0);
        }
        catch (Exception e) when (e is IOException or HttpRequestException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new RangeReadResult($"a range request for blob {blob.Digest} to {endpoint.Description} failed: {RuntimeText.Describe(e)}", 0);
        }
    }

    /// <summary>Uploads a small blob in one piece (POST, then PUT with its digest), as `image sign` attaches a payload.</summary>
    public async Task PushBlobAsync(RegistryEndpoint endpoint, byte[] bytes, ImageReference image, CancellationToken cancellationToken)
    {
        var digest = Digest.Compute(bytes);
        var what = $"upload of blob {digest} to {image} at {endpoint.Description}";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        var start = await ApiUriAsync(endpoint, "blobs/uploads/", timeout.Token).ConfigureAwait(false);
        using var post = NewRequest(HttpMethod.Post, start, endpoint);
        using var started = await SendAsync(post, endpoint, timeout.Token, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(started, what, endpoint, cancellationToken).ConfigureAwait(false);
        var location = started.Headers.Location ?? throw new ImageException($"{what}: the registry gave no upload location");
        var upload = location.IsAbsoluteUri ? location : new Uri(start, location);
        if (upload.Scheme != start.Scheme || !upload.Authority.Equals(start.Authority, StringComparison.OrdinalIgnoreCase))
        {
            throw new ImageException($"{what}: the registry sent the upload to another host ({UntrustedText.Printable(upload.Authority)})");
        }

        var separator = upload.Query.Length > 0 ? "&" : "?";
        using var put = NewRequest(HttpMethod.Put, new Uri($"{upload}{separator}digest={Uri.EscapeDataString(digest.ToString())}"), endpoint);
        put.Content = new ByteArrayContent(bytes);
        put.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var finished = await SendAsync(put, endpoint, timeout.Token, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(finished, what, endpoint, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores a manifest under a tag (PUT with its media type).</summary>
    public async Task PushManifestAsync(RegistryEndpoint endpoint, string tag, byte[] bytes, string mediaType, ImageReference image, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        var uri = await ApiUriAsync(endpoint, $"manifests/{tag}", timeout.Token).ConfigureAwait(false);
        using var put = NewRequest(HttpMethod.Put, uri, endpoint);
        put.Content = new ByteArrayContent(bytes);
        put.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var response = await SendAsync(put, endpoint, timeout.Token, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, $"push of manifest {tag} to {image} at {endpoint.Description}", endpoint, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _http.Dispose();
        _tokens.Dispose();
    }

    /// <summary>A handler that passes requests to one it does not own, so two chains can share the connection pool.</summary>
    private sealed class SharedHandler(HttpMessageHandler shared) : HttpMessageHandler
    {
        private readonly HttpMessageInvoker _invoker = new(shared, disposeHandler: false);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            _invoker.SendAsync(request, cancellationToken);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _invoker.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    // registries.conf's insecure means plain http and unverified TLS (as in podman); --insecure-options=http
    // only allows plain http, and --insecure-options=tls alone skips verification.
    private RegistryEndpoint Endpoint(string hostAndRepository, bool insecure, bool configuredInsecure, bool isMirror)
    {
        var slash = hostAndRepository.IndexOf('/', StringComparison.Ordinal);
        var host = hostAndRepository[..slash];
        if (host == ImageReference.DockerHubDomain)
        {
            host = "registry-1.docker.io";
        }

        if (configuredInsecure)
        {
            _insecureHosts[HostWithoutPort(host)] = true;
        }

        return new RegistryEndpoint { Host = host, Repository = hostAndRepository[(slash + 1)..], Insecure = insecure, IsMirror = isMirror };
    }

    // "docker.io/library/x" under prefix "docker.io" with location "mirror:5000/proxy" is "mirror:5000/proxy/library/x".
    private static string Rewrite(string name, RegistryEntry entry, string location) =>
        entry.IsWildcard ? location + name[name.IndexOf('/', StringComparison.Ordinal)..] : location + name[entry.Prefix.Length..];

    private static string HostWithoutPort(string host)
    {
        if (host.StartsWith('['))
        {
            // TLS sees an IPv6 literal without its brackets.
            return host[1..host.IndexOf(']', StringComparison.Ordinal)];
        }

        var colon = host.LastIndexOf(':');
        return colon >= 0 ? host[..colon] : host;
    }

    private bool ValidateCertificate(object sender, System.Security.Cryptography.X509Certificates.X509Certificate? certificate, System.Security.Cryptography.X509Certificates.X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None || _options.Insecure.HasFlag(InsecureOptions.Tls))
        {
            return true;
        }

        var host = sender is SslStream stream ? stream.TargetHostName : null;
        if (host is not null && _insecureHosts.ContainsKey(host))
        {
            return true;
        }

        if (host is not null)
        {
            _refusedCertificates[host] = errors;
        }

        return false;
    }

    private HttpRequestMessage NewRequest(HttpMethod method, Uri uri, RegistryEndpoint endpoint)
    {
        var request = new HttpRequestMessage(method, uri);
        request.Options.Set(RegistryRequest.Repository, endpoint.Repository);
        request.Options.Set(RegistryRequest.CredentialHost, endpoint.Host);
        return request;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, RegistryEndpoint endpoint, CancellationToken timeoutToken, CancellationToken callerToken, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        try
        {
            return await _http.SendAsync(request, completion, timeoutToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!callerToken.IsCancellationRequested)
        {
            throw new ImageException($"{endpoint.Description}: {request.Method} {request.RequestUri} timed out after {_options.RequestTimeout.TotalSeconds:0}s", e);
        }
        catch (HttpRequestException e)
        {
            throw new ImageException($"{endpoint.Description}: {request.Method} {request.RequestUri} failed: {RuntimeText.Describe(e)}", e);
        }
    }

    private async Task<Uri> ApiUriAsync(RegistryEndpoint endpoint, string path, CancellationToken cancellationToken)
    {
        var baseUri = await BaseUriAsync(endpoint, cancellationToken).ConfigureAwait(false);
        return new Uri(baseUri, $"v2/{endpoint.Repository}/{path}");
    }

    // https first; plain http only for an insecure endpoint and only when https could not be spoken at all.
    private async Task<Uri> BaseUriAsync(RegistryEndpoint endpoint, CancellationToken cancellationToken)
    {
        if (_baseUris.TryGetValue(endpoint.Host, out var known))
        {
            return known;
        }

        var https = new Uri($"https://{endpoint.Host}/");
        Exception httpsFailure;
        try
        {
            await PingAtAsync(https, endpoint, cancellationToken).ConfigureAwait(false);
            return _baseUris[endpoint.Host] = https;
        }
        catch (ImageException e) when (e.InnerException is HttpRequestException)
        {
            httpsFailure = e;
        }

        // With an explicit port, http would knock on the same closed door.
        if (endpoint.Insecure && HttpRequests.IsConnectionRefused(httpsFailure) && endpoint.Host.LastIndexOf(':') > endpoint.Host.LastIndexOf(']'))
        {
            throw new ImageException($"{endpoint.Description}: nothing listens on {endpoint.Host}: {RuntimeText.Describe(httpsFailure.InnerException!)}", httpsFailure);
        }

        // A certificate refused means the registry speaks TLS: plain http would only downgrade (or fail),
        // and "http" is not the option that helps.
        if (_refusedCertificates.TryGetValue(HostWithoutPort(endpoint.Host), out var certificateErrors))
        {
            throw new ImageException(
                $"{endpoint.Description}: the TLS certificate of {endpoint.Host} is not trusted ({DescribeCertificateErrors(certificateErrors)}). " +
                "Trust its CA on this host (copy it to /usr/local/share/ca-certificates/ and run update-ca-certificates), " +
                $"or skip verification for it with --insecure-options=tls or insecure = true in registries.conf ({_options.RegistriesConf.Source})",
                httpsFailure);
        }

        if (!endpoint.Insecure)
        {
            throw new ImageException(
                $"{endpoint.Description}: cannot talk https to {endpoint.Host}: {RuntimeText.Describe(httpsFailure.InnerException!)}. " +
                $"If it only speaks plain http, mark it insecure = true in registries.conf ({_options.RegistriesConf.Source}) or pass --insecure-options=http",
                httpsFailure);
        }

        _options.Log?.Invoke($"{endpoint.Description}: https failed ({RuntimeText.Describe(httpsFailure.InnerException!)}); trying plain http because it is marked insecure");
        var http = new Uri($"http://{endpoint.Host}/");
        await PingAtAsync(http, endpoint, cancellationToken).ConfigureAwait(false);
        return _baseUris[endpoint.Host] = http;
    }

    private async Task PingAtAsync(Uri baseUri, RegistryEndpoint endpoint, CancellationToken cancellationToken)
    {
        var uri = new Uri(baseUri, "v2/");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        using var response = await SendAsync(request, endpoint, timeout.Token, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            _auth.Learn(uri, response);
            return;
        }

        if (!response.IsSuccessStatusCode)
        {
            throw new ImageException($"{endpoint.Description}: {uri} answered {(int)response.StatusCode} {response.ReasonPhrase}; is it an OCI registry?");
        }
    }

    private static string DescribeCertificateErrors(SslPolicyErrors errors)
    {
        var reasons = new List<string>();
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            reasons.Add("its chain does not lead to a trusted CA");
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            reasons.Add("it names another host");
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            reasons.Add("none was presented");
        }

        return string.Join(", ", reasons);
    }

    private async Task EnsureSuccessAsync(HttpResponseMessage response, string what, RegistryEndpoint endpoint, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var detail = await ErrorDetailAsync(response, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            throw new RegistryAuthenticationException(
                $"{what}: {endpoint.Host} requires authentication and no credentials for it were found in {string.Join(", ", _options.Credentials.Files.DefaultIfEmpty("(no credential files)"))}{detail}");
        }

        throw new ImageException($"{what}: {(int)response.StatusCode} {response.ReasonPhrase}{detail}");
    }

    private static async Task<string> ErrorDetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var body = await AuthHandler.ReadCappedAsync(response, MaxErrorBodyBytes, cancellationToken).ConfigureAwait(false);
            if (body is null || body.Length == 0)
            {
                return string.Empty;
            }

            return $" ({UntrustedText.Printable(Encoding.UTF8.GetString(body).Trim())})";
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            return string.Empty;
        }
    }

    private static string ManifestMediaType(byte[] bytes, string? contentType, string what, ImageReference image)
    {
        if (MediaTypes.IsSchema1(contentType))
        {
            throw new ImageException($"{image}: schema1 manifests are not supported ({what} is {contentType}); push it again with a current client");
        }

        ManifestProbe? probe;
        try
        {
            probe = JsonSerializer.Deserialize(bytes, OciJsonContext.Default.ManifestProbe);
        }
        catch (JsonException e)
        {
            throw new ImageException($"{what}: not valid JSON: {JsonText.Describe(e)}", e);
        }

        if (probe is null)
        {
            throw new ImageException($"{what}: empty manifest");
        }

        if (probe.SchemaVersion == 1 || probe.FsLayers is not null || MediaTypes.IsSchema1(probe.MediaType))
        {
            throw new ImageException($"{image}: schema1 manifests are not supported ({what}); push it again with a current client");
        }

        if (probe.MediaType is { Length: > 0 } declared)
        {
            if (!string.Equals(declared, contentType, StringComparison.Ordinal))
            {
                throw new ImageException($"{what}: the body's mediaType \"{UntrustedText.Printable(declared)}\" differs from its Content-Type \"{UntrustedText.Printable(contentType ?? "(none)")}\"");
            }

            return declared;
        }

        if (MediaTypes.IsIndex(contentType) || MediaTypes.IsManifest(contentType))
        {
            return contentType!;
        }

        // OCI documents may omit mediaType; a registry may then serve them as plain JSON.
        return probe.Manifests is not null ? MediaTypes.OciIndex : probe.Config is not null ? MediaTypes.OciManifest
            : throw new ImageException($"{what}: neither a manifest nor an index (Content-Type \"{UntrustedText.Printable(contentType ?? "(none)")}\")");
    }
}
