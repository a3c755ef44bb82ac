namespace Kubefly.Trust.Policy;

/// <summary>One entry of a policy.json requirement list (containers-policy.json(5)); every entry must pass.</summary>
public abstract record PolicyRequirement
{
    /// <summary>The policy file's line the requirement starts on, for messages.</summary>
    public int Line { get; init; }

    /// <summary>Whether this requirement looks at signatures (so --insecure-options=image cannot stand in for it).</summary>
    public virtual bool NeedsSignatures => false;

    /// <summary>The requirement as an operator wrote it, in a few words.</summary>
    public abstract string Describe();
}

public sealed record InsecureAcceptAnything : PolicyRequirement
{
    public override string Describe() => "insecureAcceptAnything";
}

public sealed record RejectRequirement : PolicyRequirement
{
    public override string Describe() => "reject";
}

/// <summary>A trusted key, from a file named in the policy or inline (base64 in the policy itself).</summary>
public sealed record KeySource(string? Path, byte[]? Data)
{
    public string Describe() => Path is null ? "inline key data" : $"key file {Path}";

    public byte[] Read(long maxBytes)
    {
        if (Data is not null)
        {
            return Data;
        }

        return BoundedFile.Read(Path!, maxBytes, "trusted key file");
    }
}

/// <summary>GPG simple signing ("signedBy"); only keyType GPGKeys can be checked.</summary>
public sealed record SignedByRequirement(string KeyType, IReadOnlyList<KeySource> Keys, SignedIdentity Identity) : PolicyRequirement
{
    public override bool NeedsSignatures => true;

    public override string Describe() => $"signedBy ({KeyType}: {string.Join(", ", Keys.Select(k => k.Describe()))}; identity {Identity.Describe()})";
}

/// <summary>
/// Sigstore (cosign) signatures. <see cref="Unsupported"/> names what the policy asked that kubefly
/// cannot check (Fulcio certificates, Rekor transparency logs, PKI): such a requirement denies.
/// </summary>
public sealed record SigstoreSignedRequirement(IReadOnlyList<KeySource> Keys, string? Unsupported, SignedIdentity Identity) : PolicyRequirement
{
    public override bool NeedsSignatures => true;

    public override string Describe() => Unsupported is { } what
        ? $"sigstoreSigned ({what}; identity {Identity.Describe()})"
        : $"sigstoreSigned ({string.Join(", ", Keys.Select(k => k.Describe()))}; identity {Identity.Describe()})";
}
