using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Kubefly.Oci;

namespace Kubefly.Images.Registry;

/// <summary>Authentication with a registry or its token service failed; the message says which and why.</summary>
public sealed class RegistryAuthenticationException : ImageException
{
    public RegistryAuthenticationException(string message)
        : base(message)
    {
    }

    public RegistryAuthenticationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Registry authentication (Distribution token auth and HTTP Basic). A 401 teaches it the host's
/// challenge; from then on requests for a repository get a Bearer token for
/// <c>repository:NAME:pull</c> (cached per registry and scope until it expires) or Basic credentials.
/// Only requests marked with <see cref="RegistryRequest.Repository"/> get credentials, which the
/// redirect handler strips for other hosts.
/// </summary>
internal sealed class AuthHandler(RegistryClientOptions options) : DelegatingHandler
{
    private const int MaxTokenResponseBytes = 1 << 20;
    private static readonly TimeSpan MinimumTokenLifetime = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ExpiryMargin = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, AuthenticationChallenge> _challenges = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Task<CachedToken>> _tokens = new(StringComparer.Ordinal);

    /// <summary>
    /// Sends token requests through the client's redirect and retry handlers (set by RegistryClient): a
    /// token service behind a redirect, or one that answers 503 once, must work as the registry does.
    /// Without it, token requests go straight to the inner handler.
    /// </summary>
    public HttpMessageInvoker? TokenSender { get; set; }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri!;
        if (!request.Options.TryGetValue(RegistryRequest.Repository, out var repository))
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        AuthenticationChallenge? known;
        lock (_lock)
        {
            _challenges.TryGetValue(uri.Authority, out known);
        }

        var applied = known is not null && await ApplyAsync(request, known, repository, forceRefresh: false, cancellationToken).ConfigureAwait(false);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized)
        {
            return response;
        }

        var challenge = ChooseChallenge(response);
        if (challenge is null)
        {
            return response;
        }

        lock (_lock)
        {
            _challenges[uri.Authority] = challenge;
        }

        if (applied && SameChallenge(known!, challenge) && !challenge.IsBearer)
        {
            throw Rejected(request, repository, response);
        }

        // A new challenge, or a Bearer token the registry no longer accepts: authenticate (again) once.
        var retry = HttpRequests.CloneWithoutContent(request);
        if (!await ApplyAsync(retry, challenge, repository, forceRefresh: applied, cancellationToken).ConfigureAwait(false))
        {
            retry.Dispose();
            return response;
        }

        var second = await base.SendAsync(retry, cancellationToken).ConfigureAwait(false);
        if (second.StatusCode == HttpStatusCode.Unauthorized)
        {
            var rejected = Rejected(retry, repository, second);
            second.Dispose();
            response.Dispose();
            throw rejected;
        }

        response.Dispose();
        return second;
    }

    /// <summary>The challenge of a ping's 401, recorded so the first real request authenticates up front.</summary>
    public void Learn(Uri uri, HttpResponseMessage response)
    {
        if (response.StatusCode == HttpStatusCode.Unauthorized && ChooseChallenge(response) is { } challenge)
        {
            lock (_lock)
            {
                _challenges[uri.Authority] = challenge;
            }
        }
    }

    private static AuthenticationChallenge? ChooseChallenge(HttpResponseMessage response)
    {
        var challenges = response.Headers.TryGetValues("WWW-Authenticate", out var values) ? AuthenticationChallenge.FromHeaders(values) : [];
        return challenges.FirstOrDefault(c => c.IsBearer && c.Realm is not null) ?? challenges.FirstOrDefault(c => c.IsBasic);
    }

    private static bool SameChallenge(AuthenticationChallenge a, AuthenticationChallenge b) =>
        a.Scheme.Equals(b.Scheme, StringComparison.OrdinalIgnoreCase) && a.Realm == b.Realm && a.Service == b.Service;

    private RegistryCredentials? CredentialsFor(HttpRequestMessage request, string repository)
    {
        var host = request.Options.TryGetValue(RegistryRequest.CredentialHost, out var credentialHost) ? credentialHost : request.RequestUri!.Authority;
        return options.Credentials.Find(host, repository);
    }

    // Returns false when there is nothing to send (Basic challenge and no credentials).
    private async Task<bool> ApplyAsync(HttpRequestMessage request, AuthenticationChallenge challenge, string repository, bool forceRefresh, CancellationToken cancellationToken)
    {
        var credentials = CredentialsFor(request, repository);
        if (challenge.IsBasic)
        {
            if (credentials is null)
            {
                return false;
            }

            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", BasicValue(credentials));
            return true;
        }

        var scopes = new List<string> { $"repository:{repository}:pull" };
        foreach (var scope in challenge.Scopes)
        {
            if (!scopes.Contains(scope, StringComparer.Ordinal))
            {
                scopes.Add(scope);
            }
        }

        var key = $"{request.RequestUri!.Authority}|{challenge.Realm}|{challenge.Service}|{credentials?.Username}|{string.Join(' ', scopes)}";
        Task<CachedToken> pending;
        lock (_lock)
        {
            if (forceRefresh || !_tokens.TryGetValue(key, out pending!) || pending.IsFaulted || pending.IsCanceled ||
                (pending.IsCompletedSuccessfully && pending.Result.ExpiresAt <= DateTimeOffset.UtcNow))
            {
                pending = FetchTokenAsync(request.RequestUri, challenge, scopes, credentials, cancellationToken);
                _tokens[key] = pending;
            }
        }

        var token = await pending.ConfigureAwait(false);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Value);
        return true;
    }

    private async Task<CachedToken> FetchTokenAsync(Uri registryUri, AuthenticationChallenge challenge, IReadOnlyList<string> scopes, RegistryCredentials? credentials, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(challenge.Realm, UriKind.Absolute, out var realm) || realm.Scheme is not ("http" or "https"))
        {
            throw new RegistryAuthenticationException($"registry {registryUri.Authority} named an invalid token realm \"{UntrustedText.Printable(challenge.Realm)}\"");
        }

        // Credentials sent over plain http to a realm of a registry reached over https would leak them.
        if (credentials is not null && realm.Scheme == "http" && registryUri.Scheme == "https")
        {
            throw new RegistryAuthenticationException($"registry {registryUri.Authority} (https) sent its credentials' token realm {realm} over plain http; refusing to send the password of {credentials.Username} there");
        }

        var query = new StringBuilder(realm.Query.Length > 1 ? realm.Query[1..] : string.Empty);
        if (challenge.Service is { } service)
        {
            Append(query, "service", service);
        }

        foreach (var scope in scopes)
        {
            Append(query, "scope", scope);
        }

        var tokenUri = new UriBuilder(realm) { Query = query.ToString() }.Uri;
        using var request = new HttpRequestMessage(HttpMethod.Get, tokenUri);
        if (credentials is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", BasicValue(credentials));
        }

        request.Headers.UserAgent.TryParseAdd(options.UserAgent);
        var requestedAt = DateTimeOffset.UtcNow;
        using var response = TokenSender is { } sender
            ? await sender.SendAsync(request, cancellationToken).ConfigureAwait(false)
            : await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var who = credentials is null ? "anonymously" : $"as {credentials}";
        if (!response.IsSuccessStatusCode)
        {
            throw new RegistryAuthenticationException(
                $"registry {registryUri.Authority}: token service {realm.GetLeftPart(UriPartial.Path)} refused a token {who} for {string.Join(' ', scopes)}: {(int)response.StatusCode} {response.ReasonPhrase}");
        }

        var body = await ReadCappedAsync(response, MaxTokenResponseBytes, cancellationToken).ConfigureAwait(false)
            ?? throw new RegistryAuthenticationException($"registry {registryUri.Authority}: token service {realm.GetLeftPart(UriPartial.Path)} answered more than {MaxTokenResponseBytes} bytes");
        TokenResponse? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize(body, CredentialJsonContext.Default.TokenResponse);
        }
        catch (JsonException e)
        {
            throw new RegistryAuthenticationException($"registry {registryUri.Authority}: token service {realm.GetLeftPart(UriPartial.Path)} answered invalid JSON: {JsonText.Describe(e)}", e);
        }

        var value = parsed?.Token is { Length: > 0 } t ? t : parsed?.AccessToken;
        if (string.IsNullOrEmpty(value))
        {
            throw new RegistryAuthenticationException($"registry {registryUri.Authority}: token service {realm.GetLeftPart(UriPartial.Path)} answered without a token");
        }

        var lifetime = parsed!.ExpiresIn is { } seconds && seconds > MinimumTokenLifetime.TotalSeconds
            ? TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.FromDays(1).TotalSeconds))
            : MinimumTokenLifetime;
        return new CachedToken(value, requestedAt + lifetime - ExpiryMargin);
    }

    private RegistryAuthenticationException Rejected(HttpRequestMessage request, string repository, HttpResponseMessage response)
    {
        var credentials = CredentialsFor(request, repository);
        var who = credentials is null
            ? $"anonymous access (no credentials for {request.RequestUri!.Authority} in {string.Join(", ", options.Credentials.Files.DefaultIfEmpty("(no credential files)"))})"
            : $"the credentials of {credentials}";
        return new RegistryAuthenticationException(
            $"registry {request.RequestUri!.Authority} refused {who} for repository {repository}: {(int)response.StatusCode} {response.ReasonPhrase}");
    }

    private static string BasicValue(RegistryCredentials credentials) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.Username}:{credentials.Password}"));

    private static void Append(StringBuilder query, string name, string value)
    {
        if (query.Length > 0)
        {
            query.Append('&');
        }

        query.Append(name).Append('=').Append(Uri.EscapeDataString(value));
    }

    /// <summary>Reads a body of at most <paramref name="limit"/> bytes; null when it is longer.</summary>
    internal static async Task<byte[]?> ReadCappedAsync(HttpResponseMessage response, int limit, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > limit)
        {
            return null;
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        while (true)
        {
            var n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return buffer.ToArray();
            }

            if (buffer.Length + n > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, n);
        }
    }

    private sealed record CachedToken(string Value, DateTimeOffset ExpiresAt);
}
