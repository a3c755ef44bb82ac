namespace Kubefly.Images.Registry;

/// <summary>
/// One place an image can be pulled from: a mirror or the origin, with the repository path it has there
/// (a mirror's location may add a path: "mirror:5000/proxy" serves docker.io/library/x as proxy/library/x).
/// </summary>
public sealed record RegistryEndpoint
{
    /// <summary>host[:port] of the registry API ("registry-1.docker.io" for Docker Hub).</summary>
    public required string Host { get; init; }

    /// <summary>The repository on this endpoint ("library/busybox").</summary>
    public required string Repository { get; init; }

    /// <summary>Whether plain http and unverified TLS are allowed (registries.conf insecure = true, or --insecure-options).</summary>
    public bool Insecure { get; init; }

    public bool IsMirror { get; init; }

    /// <summary>"mirror 127.0.0.1:5001" or "registry quay.io", for messages.</summary>
    public string Description => $"{(IsMirror ? "mirror" : "registry")} {Host}";

    public override string ToString() => $"{Description} ({Host}/{Repository})";
}

/// <summary>What a registry request carries for the handler chain.</summary>
internal static class RegistryRequest
{
    /// <summary>The repository a request is for: it chooses the token scope. Absent for pings and for other hosts after a redirect.</summary>
    public static readonly HttpRequestOptionsKey<string> Repository = new("kubefly.registry.repository");

    /// <summary>The registry name the credentials are looked up under (the endpoint host; its repository path comes from <see cref="Repository"/>).</summary>
    public static readonly HttpRequestOptionsKey<string> CredentialHost = new("kubefly.registry.credential-host");
}
