using System.Text.RegularExpressions;

namespace Kubefly.Oci;

public enum ImageTransport
{
    /// <summary>A registry image: docker://HOST/PATH:TAG or the plain docker form.</summary>
    Docker,

    /// <summary>An OCI image layout directory: oci:DIR[:TAG].</summary>
    OciLayout,

    /// <summary>A tar of an OCI image layout: oci-archive:FILE[:TAG].</summary>
    OciArchive,

    /// <summary>A `docker save` tarball: docker-archive:FILE[:REFERENCE].</summary>
    DockerArchive,
}

/// <summary>
/// Where an image comes from, parsed and normalized the way docker and podman do
/// ("busybox" is docker.io/library/busybox:latest).
/// </summary>
public sealed partial record ImageReference
{
    public const string DockerHubDomain = "docker.io";
    private const string DockerHubApiHost = "registry-1.docker.io";
    private const int MaxRepositoryLength = 255;

    private static readonly string[] UnsupportedTransports =
        ["dir", "docker-daemon", "containers-storage", "ostree", "sif", "tarball", "http", "https", "file"];

    private ImageReference(ImageTransport transport, string original)
    {
        Transport = transport;
        Original = original;
    }

    public ImageTransport Transport { get; }

    /// <summary>The text the user gave, for messages.</summary>
    public string Original { get; }

    /// <summary>Registry host[:port] for docker references ("docker.io" for Docker Hub).</summary>
    public string Registry { get; private init; } = string.Empty;

    /// <summary>Repository path inside the registry ("library/busybox").</summary>
    public string Repository { get; private init; } = string.Empty;

    /// <summary>Tag (docker), or the ref name (oci layout), or the reference chosen in a docker archive.</summary>
    public string? Tag { get; private init; }

    public Digest? Digest { get; private init; }

    /// <summary>Filesystem path for the file-based transports.</summary>
    public string? Path { get; private init; }

    /// <summary>The host to talk to for the registry API (Docker Hub's API lives on another host).</summary>
    public string ApiHost => Registry == DockerHubDomain ? DockerHubApiHost : Registry;

    /// <summary>"docker.io/library/busybox" for docker; the transport and path otherwise.</summary>
    public string Name => Transport switch
    {
        ImageTransport.Docker => $"{Registry}/{Repository}",
        ImageTransport.OciLayout => $"oci:{Path}",
        ImageTransport.OciArchive => $"oci-archive:{Path}",
        _ => $"docker-archive:{Path}",
    };

    /// <summary>The canonical form: docker.io/library/busybox:latest, host/repo@sha256:..., oci:DIR:TAG.</summary>
    public override string ToString()
    {
        var text = Name;
        if (Tag is not null)
        {
            text += ":" + Tag;
        }

        if (Digest is { } digest)
        {
            text += "@" + digest;
        }

        return text;
    }

    /// <summary>The same docker reference pinned to a manifest digest (the tag kept for identity).</summary>
    public ImageReference WithDigest(Digest digest) => this with { Digest = digest };

    /// <summary>The same docker reference on another registry (a mirror).</summary>
    public ImageReference WithRegistry(string registry) => this with { Registry = registry };

    public static ImageReference Parse(string input) =>
        TryParse(input, out var reference, out var error) ? reference : throw new ImageException($"invalid image reference \"{UntrustedText.Printable(input)}\": {error}");

    public static bool TryParse(string input, out ImageReference reference, out string error)
    {
        reference = null!;
        error = string.Empty;
        if (string.IsNullOrWhiteSpace(input))
        {
            error = "empty";
            return false;
        }

        if (input.StartsWith("docker://", StringComparison.Ordinal))
        {
            return TryParseDocker(input, input["docker://".Length..], out reference, out error);
        }

        var scheme = input.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0)
        {
            error = $"unknown transport \"{UntrustedText.Printable(input[..scheme])}\" (known: docker://, oci:, oci-archive:, docker-archive:)";
            return false;
        }

        foreach (var (prefix, transport) in new[] { ("oci:", ImageTransport.OciLayout), ("oci-archive:", ImageTransport.OciArchive), ("docker-archive:", ImageTransport.DockerArchive) })
        {
            if (input.StartsWith(prefix, StringComparison.Ordinal))
            {
                return TryParseFile(input, input[prefix.Length..], transport, out reference, out error);
            }
        }

        var colon = input.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0 && Array.IndexOf(UnsupportedTransports, input[..colon]) >= 0)
        {
            error = $"unsupported transport \"{input[..colon]}:\" (known: docker://, oci:, oci-archive:, docker-archive:)";
            return false;
        }

        return TryParseDocker(input, input, out reference, out error);
    }

    private static bool TryParseFile(string original, string rest, ImageTransport transport, out ImageReference reference, out string error)
    {
        reference = null!;
        var colon = rest.IndexOf(':', StringComparison.Ordinal);
        var path = colon >= 0 ? rest[..colon] : rest;
        var tag = colon >= 0 ? rest[(colon + 1)..] : null;
        if (path.Length == 0)
        {
            error = "missing path";
            return false;
        }

        if (tag is { Length: 0 })
        {
            error = "empty tag after ':'";
            return false;
        }

        if (tag is not null && transport != ImageTransport.DockerArchive && !TagPattern().IsMatch(tag))
        {
            error = $"invalid tag \"{UntrustedText.Printable(tag)}\"";
            return false;
        }

        // Found by fuzzing: GetFullPath throws on a NUL, with .NET's words.
        if (path.Contains('\0', StringComparison.Ordinal))
        {
            error = $"the path \"{UntrustedText.Printable(path)}\" contains a NUL character";
            return false;
        }

        error = string.Empty;
        reference = new ImageReference(transport, original) { Path = System.IO.Path.GetFullPath(path), Tag = tag };
        return true;
    }

    private static bool TryParseDocker(string original, string text, out ImageReference reference, out string error)
    {
        reference = null!;
        Digest? digest = null;
        var at = text.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            if (!Oci.Digest.TryParse(text[(at + 1)..], out var parsed, out var digestError))
            {
                error = $"invalid digest: {digestError}";
                return false;
            }

            digest = parsed;
            text = text[..at];
        }

        string? tag = null;
        var lastColon = text.LastIndexOf(':');
        if (lastColon > text.LastIndexOf('/'))
        {
            tag = text[(lastColon + 1)..];
            text = text[..lastColon];
            if (!TagPattern().IsMatch(tag))
            {
                error = $"invalid tag \"{UntrustedText.Printable(tag)}\"";
                return false;
            }
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        string registry;
        string repository;
        var first = slash >= 0 ? text[..slash] : string.Empty;
        if (slash >= 0 && (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost"))
        {
            registry = first;
            repository = text[(slash + 1)..];
            if (!DomainPattern().IsMatch(registry))
            {
                error = $"invalid registry \"{UntrustedText.Printable(registry)}\"";
                return false;
            }
        }
        else
        {
            registry = DockerHubDomain;
            repository = text;
        }

        if (registry == "index.docker.io")
        {
            registry = DockerHubDomain;
        }

        if (registry == DockerHubDomain && !repository.Contains('/', StringComparison.Ordinal))
        {
            repository = "library/" + repository;
        }

        if (repository.Length == 0)
        {
            error = "missing repository name";
            return false;
        }

        if (repository.Any(char.IsUpper))
        {
            error = "repository name must be lowercase";
            return false;
        }

        foreach (var component in repository.Split('/'))
        {
            if (!PathComponentPattern().IsMatch(component))
            {
                error = $"invalid repository path component \"{UntrustedText.Printable(component)}\"";
                return false;
            }
        }

        if (registry.Length + 1 + repository.Length > MaxRepositoryLength)
        {
            error = $"repository name longer than {MaxRepositoryLength} characters";
            return false;
        }

        error = string.Empty;
        reference = new ImageReference(ImageTransport.Docker, original)
        {
            Registry = registry,
            Repository = repository,
            Tag = tag ?? (digest is null ? "latest" : null),
            Digest = digest,
        };
        return true;
    }

    [GeneratedRegex(@"^[\w][\w.-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$")]
    private static partial Regex PathComponentPattern();

    [GeneratedRegex(@"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$")]
    private static partial Regex DomainPattern();
}
