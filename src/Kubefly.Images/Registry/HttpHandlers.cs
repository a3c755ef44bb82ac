using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Kubefly.Oci;

namespace Kubefly.Images.Registry;

internal static class HttpRequests
{
    /// <summary>A fresh copy of a body-less request (a sent HttpRequestMessage cannot be sent again).</summary>
    public static HttpRequestMessage CloneWithoutContent(HttpRequestMessage request, Uri? uri = null, bool keepOptions = true)
    {
        var clone = new HttpRequestMessage(request.Method, uri ?? request.RequestUri) { Version = request.Version, VersionPolicy = request.VersionPolicy };
        foreach (var (name, values) in request.Headers)
        {
            clone.Headers.TryAddWithoutValidation(name, values);
        }

        if (keepOptions)
        {
            foreach (var (key, value) in request.Options)
            {
                ((IDictionary<string, object?>)clone.Options)[key] = value;
            }
        }

        return clone;
    }

    public static bool IsIdempotent(HttpRequestMessage request) => request.Method == HttpMethod.Get || request.Method == HttpMethod.Head;

    /// <summary>A TLS handshake failure: permanent for this scheme, and the signal to try http on an insecure registry.</summary>
    public static bool IsTlsFailure(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is AuthenticationException)
            {
                return true;
            }
        }

        return e is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError };
    }

    public static bool IsConnectionRefused(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
            {
                return true;
            }
        }

        return false;
    }

    public static bool IsTransient(HttpStatusCode status) =>
        status == HttpStatusCode.TooManyRequests || ((int)status >= 500 && status is not HttpStatusCode.NotImplemented and not HttpStatusCode.HttpVersionNotSupported);
}

/// <summary>
/// Retries idempotent requests on 5xx, 429 and transport errors with bounded exponential backoff plus
/// jitter, honouring Retry-After. TLS failures and the caller's cancellation are not retried.
/// </summary>
internal sealed class RetryHandler(RegistryClientOptions options) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!HttpRequests.IsIdempotent(request) || options.MaxAttempts <= 1)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        for (var attempt = 1; ; attempt++)
        {
            var current = attempt == 1 ? request : HttpRequests.CloneWithoutContent(request);
            TimeSpan delay;
            try
            {
                var response = await base.SendAsync(current, cancellationToken).ConfigureAwait(false);
                if (!HttpRequests.IsTransient(response.StatusCode) || attempt >= options.MaxAttempts)
                {
                    return response;
                }

                delay = RetryAfter.From(response.Headers, DateTimeOffset.UtcNow, options.MaxRetryAfter) ?? Backoff(attempt);
                options.Log?.Invoke($"{request.Method} {request.RequestUri}: {(int)response.StatusCode} {response.ReasonPhrase}; retrying in {delay.TotalSeconds:0.0}s (attempt {attempt + 1} of {options.MaxAttempts})");
                response.Dispose();
            }
            catch (Exception e) when (attempt < options.MaxAttempts && !cancellationToken.IsCancellationRequested &&
                                      e is HttpRequestException or IOException or OperationCanceledException && !HttpRequests.IsTlsFailure(e))
            {
                delay = Backoff(attempt);
                options.Log?.Invoke($"{request.Method} {request.RequestUri}: {RuntimeText.Describe(e)}; retrying in {delay.TotalSeconds:0.0}s (attempt {attempt + 1} of {options.MaxAttempts})");
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
    }

    private TimeSpan Backoff(int attempt)
    {
        var exponential = options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, attempt - 1);
        var capped = Math.Min(exponential, options.MaxRetryDelay.TotalMilliseconds);
        // Full jitter on the upper half keeps many clients from retrying in lockstep without ever waiting ~0.
        var jittered = (capped / 2) + (Random.Shared.NextDouble() * capped / 2);
        return TimeSpan.FromMilliseconds(jittered);
    }
}

/// <summary>
/// Follows redirects itself (the socket handler's own following is off) so that credentials never travel
/// to another host: a request to a different scheme, host or port loses its Authorization header and
/// the repository marker that makes the auth handler add credentials. https never downgrades to http.
/// </summary>
internal sealed class RedirectHandler(RegistryClientOptions options) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var current = request;
        for (var hop = 0; ; hop++)
        {
            var response = await base.SendAsync(current, cancellationToken).ConfigureAwait(false);
            if (!IsRedirect(response.StatusCode))
            {
                return response;
            }

            var location = response.Headers.Location;
            if (location is null)
            {
                return response;
            }

            var from = current.RequestUri!;
            var target = location.IsAbsoluteUri ? location : new Uri(from, location);
            response.Dispose();
            if (hop >= options.MaxRedirects)
            {
                throw new HttpRequestException($"{request.Method} {request.RequestUri}: more than {options.MaxRedirects} redirects");
            }

            if (target.Scheme is not ("http" or "https") || (from.Scheme == "https" && target.Scheme == "http"))
            {
                throw new HttpRequestException($"{request.Method} {request.RequestUri}: refusing redirect from {from.Scheme} to {UntrustedText.Printable(target.ToString())}");
            }

            var sameOrigin = string.Equals(from.Scheme, target.Scheme, StringComparison.OrdinalIgnoreCase) &&
                             string.Equals(from.Authority, target.Authority, StringComparison.OrdinalIgnoreCase);
            var method = response.StatusCode == HttpStatusCode.SeeOther ? HttpMethod.Get : current.Method;
            var next = HttpRequests.CloneWithoutContent(current, target, keepOptions: sameOrigin);
            next.Method = method;
            if (!sameOrigin)
            {
                next.Headers.Authorization = null;
            }

            current = next;
        }
    }

    private static bool IsRedirect(HttpStatusCode status) =>
        status is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;
}
