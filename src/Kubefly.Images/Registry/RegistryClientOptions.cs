using Kubefly.Oci;

namespace Kubefly.Images.Registry;

/// <summary>How a <see cref="RegistryClient"/> reaches registries.</summary>
public sealed record RegistryClientOptions
{
    /// <summary>Locations, mirrors, insecure and blocked registries (default: none configured).</summary>
    public RegistriesConf RegistriesConf { get; init; } = RegistriesConf.Empty;

    public CredentialStore Credentials { get; init; } = CredentialStore.None;

    /// <summary><see cref="InsecureOptions.Http"/> allows plain http to every registry; <see cref="InsecureOptions.Tls"/> skips certificate checks.</summary>
    public InsecureOptions Insecure { get; init; } = InsecureOptions.None;

    /// <summary>Where fallbacks, retries and resumes are reported (one line each).</summary>
    public Action<string>? Log { get; init; }

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>For a whole small request (ping, manifest, token), and for a blob response's headers.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a blob download may go without receiving a byte before it is resumed.</summary>
    public TimeSpan ReadIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Attempts per idempotent request (first try included) on 5xx, 429 and transport errors.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>The first retry's delay; it doubles per attempt (plus jitter) up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A server's Retry-After is honoured up to this long.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How many times one blob download may resume after a dropped connection.</summary>
    public int MaxBlobResumes { get; init; } = 5;

    /// <summary>Redirects followed per request.</summary>
    public int MaxRedirects { get; init; } = 5;

    /// <summary>What RegistryClient sends as User-Agent.</summary>
    public string UserAgent { get; init; } = "kubefly";
}
