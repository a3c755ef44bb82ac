using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Kubefly.Tests.Infrastructure.Registry;

/// <summary>One token request as the token server saw it.</summary>
public sealed record TokenRequest(string? Service, IReadOnlyList<string> Scopes, string? Authorization, string? User, HttpStatusCode Status);

/// <summary>
/// A Distribution token service on 127.0.0.1 for docker-registry's token auth: it issues ES256 JWTs
/// signed by a P-256 key whose self-signed certificate (in the <c>x5c</c> header) is the registry's
/// <c>rootcertbundle</c>. Anonymous, or requiring Basic credentials. Records every request.
/// </summary>
public sealed class TokenServer : IDisposable
{
    public const string Issuer = "kubefly-test-token-issuer";

    private readonly HttpListener _listener = new();
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly X509Certificate2 _certificate;
    private readonly ConcurrentQueue<TokenRequest> _requests = new();
    private readonly string _directory;
    private readonly Task _loop;

    /// <param name="credentials">Required user and password, or null to issue tokens to anyone.</param>
    public TokenServer(string service = "kubefly-test-registry", (string User, string Password)? credentials = null)
    {
        Service = service;
        Credentials = credentials;
        _directory = TestPorts.NewTempDirectory("token-server");
        var request = new CertificateRequest("CN=kubefly test token issuer", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, true));
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
        CertificateBundlePath = Path.Combine(_directory, "token-issuer.pem");
        File.WriteAllText(CertificateBundlePath, _certificate.ExportCertificatePem() + "\n");

        Port = TestPorts.StartOnFreeLoopbackPort(_listener);

        _loop = Task.Run(ServeAsync);
    }

    public string Service { get; }

    public (string User, string Password)? Credentials { get; }

    public int Port { get; }

    public string Realm => $"http://127.0.0.1:{Port}/token";

    public string CertificateBundlePath { get; }

    /// <summary>Token lifetime announced in <c>expires_in</c> (the JWT itself lives at least 5 minutes).</summary>
    public int ExpiresInSeconds { get; set; } = 300;

    /// <summary>Answer with <c>access_token</c> only (the OAuth2 spelling) instead of <c>token</c>.</summary>
    public bool AccessTokenOnly { get; set; }

    public IReadOnlyList<TokenRequest> Requests => _requests.ToArray();

    /// <summary>Answer the next so many token requests 503 with Retry-After: 0, as an overloaded token service would.</summary>
    public int UnavailableFor { get; set; }

    /// <summary>Answer the next so many token requests with a 307 to /token/moved (which then serves them), as a token service behind a redirect does.</summary>
    public int RedirectFor { get; set; }

    /// <summary>A token granting <paramref name="scopes"/> ("repository:NAME:pull,push"), issued directly (not recorded).</summary>
    public string IssueToken(string subject, IEnumerable<string> scopes)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = Json(writer =>
        {
            writer.WriteString("typ", "JWT");
            writer.WriteString("alg", "ES256");
            writer.WriteStartArray("x5c");
            writer.WriteStringValue(Convert.ToBase64String(_certificate.RawData));
            writer.WriteEndArray();
        });
        var claims = Json(writer =>
        {
            writer.WriteString("iss", Issuer);
            writer.WriteString("sub", subject);
            writer.WriteString("aud", Service);
            writer.WriteNumber("exp", now + Math.Max(ExpiresInSeconds, 300));
            writer.WriteNumber("nbf", now - 10);
            writer.WriteNumber("iat", now);
            writer.WriteString("jti", Guid.NewGuid().ToString("N"));
            writer.WriteStartArray("access");
            foreach (var scope in scopes)
            {
                if (ParseScope(scope) is not { } parsed)
                {
                    continue;
                }

                writer.WriteStartObject();
                writer.WriteString("type", parsed.Type);
                writer.WriteString("name", parsed.Name);
                writer.WriteStartArray("actions");
                foreach (var action in parsed.Actions)
                {
                    writer.WriteStringValue(action);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        });
        var signingInput = Base64Url(header) + "." + Base64Url(claims);
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Base64Url(signature);
    }

    /// <summary>"repository:127.0.0.1:5000/ns/repo:pull,push": type before the first ':', actions after the last.</summary>
    public static (string Type, string Name, string[] Actions)? ParseScope(string scope)
    {
        var first = scope.IndexOf(':', StringComparison.Ordinal);
        var last = scope.LastIndexOf(':');
        if (first <= 0 || last <= first)
        {
            return null;
        }

        return (scope[..first], scope[(first + 1)..last], scope[(last + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries));
    }

    public void Dispose()
    {
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }

        _certificate.Dispose();
        _key.Dispose();
        TestPorts.DeleteDirectory(_directory);
    }

    private async Task ServeAsync()
    {
        while (await TestPorts.NextRequestAsync(_listener) is { } context)
        {

            try
            {
                Handle(context);
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
            }
        }
    }

    private void Handle(HttpListenerContext context)
    {
        var query = context.Request.QueryString;
        var scopes = query.GetValues("scope") ?? [];
        var service = query["service"];
        var authorization = context.Request.Headers["Authorization"];
        var user = BasicUser(authorization, out var password);
        var response = context.Response;
        if (UnavailableFor > 0)
        {
            UnavailableFor--;
            response.AddHeader("Retry-After", "0");
            Finish(HttpStatusCode.ServiceUnavailable, "{\"errors\":[{\"code\":\"UNAVAILABLE\"}]}");
            return;
        }

        if (RedirectFor > 0 && context.Request.Url?.AbsolutePath == "/token")
        {
            RedirectFor--;
            response.AddHeader("Location", $"/token/moved{context.Request.Url.Query}");
            Finish(HttpStatusCode.TemporaryRedirect, "{}");
            return;
        }

        if (context.Request.Url?.AbsolutePath is not ("/token" or "/token/moved"))
        {
            Finish(HttpStatusCode.NotFound, "{\"errors\":[{\"code\":\"NOT_FOUND\"}]}");
            return;
        }

        if (Credentials is { } required && (user != required.User || password != required.Password))
        {
            response.AddHeader("WWW-Authenticate", "Basic realm=\"kubefly test token service\"");
            Finish(HttpStatusCode.Unauthorized, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"bad credentials\"}]}");
            return;
        }

        if (service != Service)
        {
            Finish(HttpStatusCode.BadRequest, "{\"errors\":[{\"code\":\"INVALID_SERVICE\"}]}");
            return;
        }

        var token = IssueToken(user ?? string.Empty, scopes);
        var body = Json(writer =>
        {
            if (!AccessTokenOnly)
            {
                writer.WriteString("token", token);
            }
            else
            {
                writer.WriteString("access_token", token);
            }

            writer.WriteNumber("expires_in", ExpiresInSeconds);
            writer.WriteString("issued_at", DateTimeOffset.UtcNow.ToString("o"));
        });
        Finish(HttpStatusCode.OK, Encoding.UTF8.GetString(body));

        void Finish(HttpStatusCode status, string json)
        {
            _requests.Enqueue(new TokenRequest(service, scopes, authorization, user, status));
            var bytes = Encoding.UTF8.GetBytes(json);
            response.StatusCode = (int)status;
            response.ContentType = "application/json";
            response.ContentLength64 = bytes.Length;
            response.OutputStream.Write(bytes);
            response.Close();
        }
    }

    private static string? BasicUser(string? authorization, out string? password)
    {
        password = null;
        if (authorization is null || !authorization.StartsWith("Basic ", StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization["Basic ".Length..].Trim()));
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                return null;
            }

            password = decoded[(colon + 1)..];
            return decoded[..colon];
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
