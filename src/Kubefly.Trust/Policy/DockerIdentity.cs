using Kubefly.Oci;

namespace Kubefly.Trust.Policy;

/// <summary>
/// A docker reference as an identity: the normalized repository name with the tag or digest that was
/// actually written. Unlike <see cref="ImageReference"/> it does not add ":latest": a cosign signature
/// claims a bare repository, and that must not read as a claim for the "latest" tag.
/// </summary>
public sealed record DockerIdentity(string Name, string? Tag, Digest? Digest)
{
    /// <summary>NAME:TAG, NAME@DIGEST, or NAME alone, as containers/image compares identities.</summary>
    public string Exact => Tag is not null ? $"{Name}:{Tag}" : Digest is { } digest ? $"{Name}@{digest}" : Name;

    public bool IsNameOnly => Tag is null && Digest is null;

    public static DockerIdentity From(ImageReference reference) => new(reference.Name, reference.Tag, reference.Tag is null ? reference.Digest : null);

    public static bool TryParse(string text, out DockerIdentity identity, out string error)
    {
        identity = null!;
        if (text.Contains("://", StringComparison.Ordinal))
        {
            error = "a docker reference has no transport prefix";
            return false;
        }

        if (!ImageReference.TryParse(text, out var reference, out error))
        {
            return false;
        }

        if (reference.Transport != ImageTransport.Docker)
        {
            error = "not a docker reference";
            return false;
        }

        var withoutDigest = text.Split('@')[0];
        var explicitTag = withoutDigest.LastIndexOf(':') > withoutDigest.LastIndexOf('/');
        var tag = explicitTag ? reference.Tag : null;
        if (tag is not null && reference.Digest is not null)
        {
            error = "a reference with both a tag and a digest cannot be an identity";
            return false;
        }

        identity = new DockerIdentity(reference.Name, tag, reference.Digest);
        return true;
    }
}
