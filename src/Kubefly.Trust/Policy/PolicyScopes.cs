using System.Net;
using System.Text.RegularExpressions;
using Kubefly.Oci;

namespace Kubefly.Trust.Policy;

/// <summary>
/// Which policy.json (and registries.d) scopes name an image, most specific first, as containers/image
/// orders them: for a registry image the reference itself (NAME:TAG or NAME@DIGEST), the repository,
/// each enclosing namespace, the host, then "*.domain" wildcards from the longest; for a file-based
/// image its resolved path (with the tag for oci:) and each enclosing directory.
/// </summary>
public static partial class PolicyScopes
{
    public static string TransportName(ImageTransport transport) => transport switch
    {
        ImageTransport.Docker => "docker",
        ImageTransport.OciLayout => "oci",
        ImageTransport.OciArchive => "oci-archive",
        _ => "docker-archive",
    };

    public static IEnumerable<string> Candidates(ImageReference reference)
    {
        if (reference.Transport == ImageTransport.Docker)
        {
            return DockerCandidates(reference);
        }

        return PathCandidates(reference);
    }

    /// <summary>Null when <paramref name="scope"/> can name images of <paramref name="transport"/>, else why not.</summary>
    public static string? Validate(string transport, string scope)
    {
        if (scope.Length == 0)
        {
            return null;
        }

        switch (transport)
        {
            case "docker":
                if (scope.StartsWith("*.", StringComparison.Ordinal))
                {
                    return WildcardPattern().IsMatch(scope) ? null : "a wildcard scope is \"*.\" followed by a domain (\"*.example.com\")";
                }

                return DockerScopePattern().IsMatch(scope) ? null : "not a registry host, namespace, repository or reference (host[:port][/path][:tag|@digest])";
            case "oci" or "oci-archive" or "docker-archive":
                return scope.StartsWith('/') && !scope.Contains('\0', StringComparison.Ordinal) ? null : "must be an absolute path";
            default:
                return null;
        }
    }

    private static IEnumerable<string> DockerCandidates(ImageReference reference)
    {
        var identity = DockerIdentity.From(reference);
        if (!identity.IsNameOnly)
        {
            yield return identity.Exact;
        }

        // Both a tag and a digest: the digest names the content, so its scope is consulted too.
        if (reference.Tag is not null && reference.Digest is { } digest)
        {
            yield return $"{reference.Name}@{digest}";
        }

        var name = reference.Name;
        while (true)
        {
            yield return name;
            var slash = name.LastIndexOf('/');
            if (slash < 0)
            {
                break;
            }

            name = name[..slash];
        }

        var host = reference.Registry;
        if (host.Contains(':', StringComparison.Ordinal) || IPAddress.TryParse(host.Trim('[', ']'), out _))
        {
            yield break;
        }

        var dot = host.IndexOf('.', StringComparison.Ordinal);
        while (dot >= 0)
        {
            yield return "*" + host[dot..];
            dot = host.IndexOf('.', dot + 1);
        }
    }

    private static IEnumerable<string> PathCandidates(ImageReference reference)
    {
        var path = ResolvedPath(reference.Path!);
        if (reference.Tag is { } tag && reference.Transport == ImageTransport.OciLayout)
        {
            yield return $"{path}:{tag}";
        }

        while (path.Length > 1)
        {
            yield return path;
            path = System.IO.Path.GetDirectoryName(path) ?? "/";
        }
    }

    /// <summary>
    /// The path with its symbolic links resolved, so a link cannot route an image around a scope that
    /// names its real directory; a path that does not exist is taken as written.
    /// </summary>
    private static string ResolvedPath(string path)
    {
        try
        {
            var full = System.IO.Path.GetFullPath(path);
            var resolved = "/";
            foreach (var component in full.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                var next = System.IO.Path.Combine(resolved, component);
                var hops = 0;
                while (new FileInfo(next).LinkTarget is { } target && hops++ < 40)
                {
                    next = System.IO.Path.GetFullPath(target, System.IO.Path.GetDirectoryName(next) ?? "/");
                }

                resolved = next;
            }

            return resolved.Length > 1 ? resolved.TrimEnd('/') : resolved;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return System.IO.Path.GetFullPath(path);
        }
    }

    [GeneratedRegex(@"^\*(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")]
    private static partial Regex WildcardPattern();

    [GeneratedRegex(@"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64})?$")]
    private static partial Regex DockerScopePattern();
}
