using Kubefly.Oci;

namespace Kubefly.Trust.Policy;

/// <summary>
/// How the identity a signature claims ("docker-reference") must relate to the image being used
/// (containers-policy.json(5), signedIdentity), compared as containers/image compares them.
/// </summary>
public abstract record SignedIdentity
{
    public abstract string Describe();

    /// <summary>Null when the claimed identity is acceptable for <paramref name="image"/>, else why not.</summary>
    public string? Mismatch(ImageReference image, DockerIdentity signed)
    {
        if (this is not (ExactReferenceIdentity or ExactRepositoryIdentity) && image.Transport != ImageTransport.Docker)
        {
            return $"{image} is not a registry image, so no signature can claim its identity (use exactReference or exactRepository)";
        }

        return Mismatch(DockerIdentity.From(image), signed);
    }

    protected abstract string? Mismatch(DockerIdentity image, DockerIdentity signed);

    protected static string? MatchRepoDigestOrExact(DockerIdentity image, DockerIdentity signed)
    {
        // Used by digest, only the repository must agree (the signature itself covers the digest); used by
        // tag, the signature must name that very tag.
        if (image.Tag is null && image.Digest is not null)
        {
            return SameRepository(image, signed);
        }

        return SameExact(image, signed);
    }

    protected static string? SameExact(DockerIdentity image, DockerIdentity signed) =>
        image.Exact == signed.Exact ? null : $"the signature is for {signed.Exact}, not {image.Exact}";

    protected static string? SameRepository(DockerIdentity image, DockerIdentity signed) =>
        image.Name == signed.Name ? null : $"the signature is for repository {signed.Name}, not {image.Name}";
}

public sealed record MatchExactIdentity : SignedIdentity
{
    public override string Describe() => "matchExact";

    protected override string? Mismatch(DockerIdentity image, DockerIdentity signed) =>
        image.IsNameOnly ? "matchExact needs an image named by tag or digest" : SameExact(image, signed);
}

public sealed record MatchRepoDigestOrExactIdentity : SignedIdentity
{
    public override string Describe() => "matchRepoDigestOrExact";

    protected override string? Mismatch(DockerIdentity image, DockerIdentity signed) => MatchRepoDigestOrExact(image, signed);
}

public sealed record MatchRepositoryIdentity : SignedIdentity
{
    public override string Describe() => "matchRepository";

    protected override string? Mismatch(DockerIdentity image, DockerIdentity signed) => SameRepository(image, signed);
}

public sealed record ExactReferenceIdentity(DockerIdentity Reference) : SignedIdentity
{
    public override string Describe() => $"exactReference {Reference.Exact}";

    protected override string? Mismatch(DockerIdentity image, DockerIdentity signed) =>
        Reference.Exact == signed.Exact ? null : $"the signature is for {signed.Exact}, and the policy requires exactly {Reference.Exact}";
}

public sealed record ExactRepositoryIdentity(DockerIdentity Repository) : SignedIdentity
{
    public override string Describe() => $"exactRepository {Repository.Name}";

    protected override string? Mismatch(DockerIdentity image, DockerIdentity signed) =>
        Repository.Name == signed.Name ? null : $"the signature is for repository {signed.Name}, and the policy requires {Repository.Name}";
}

/// <summary>
/// An image pulled from a mirror or a renamed registry, signed under its upstream name: the image's
/// name has <see cref="Prefix"/> replaced by <see cref="SignedPrefix"/>, then matchRepoDigestOrExact applies.
/// </summary>
public sealed record RemapIdentity(string Prefix, string SignedPrefix) : SignedIdentity
{
    public override string Describe() => $"remapIdentity {Prefix} -> {SignedPrefix}";

    protected override string? Mismatch(DockerIdentity image, DockerIdentity signed)
    {
        var remapped = image;
        if (PrefixMatches(image.Name, Prefix))
        {
            var name = SignedPrefix + image.Name[Prefix.Length..];
            var text = image.Tag is { } tag ? $"{name}:{tag}" : image.Digest is { } digest ? $"{name}@{digest}" : name;
            if (!DockerIdentity.TryParse(text, out remapped, out var error))
            {
                return $"remapping {image.Name} from prefix {Prefix} to {SignedPrefix} gives an invalid reference: {error}";
            }
        }

        return MatchRepoDigestOrExact(remapped, signed);
    }

    /// <summary>A prefix matches whole path components: "host/ns" matches "host/ns/repo", not "host/nsx".</summary>
    private static bool PrefixMatches(string name, string prefix) =>
        name.StartsWith(prefix, StringComparison.Ordinal) && (name.Length == prefix.Length || name[prefix.Length] == '/');
}
