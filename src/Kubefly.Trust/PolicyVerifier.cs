using Kubefly.Oci;
using Kubefly.Trust.Policy;
using Kubefly.Trust.Signatures;

namespace Kubefly.Trust;

/// <summary>
/// Verifies images by the containers policy.json in force: the requirements of the image's most
/// specific scope must all pass. Signatures are read only when a requirement needs them, from the
/// lookaside store registries.d names (GPG simple signing) and from the registry's sha256-HEX.sig tag
/// (cosign). With a policy in force, --insecure-options=image cannot stand in for a signature or
/// overrule a reject: it is ignored, with a warning.
/// </summary>
public sealed class PolicyVerifier : IImageVerifier
{
    private const int MaxReasons = 8;

    private readonly TrustPolicy _policy;
    private readonly Lazy<RegistriesD> _registriesD;
    private readonly InsecureOptions _insecure;
    private readonly Action<string> _warn;
    private readonly LookasideReader _lookaside;

    /// <param name="registriesD">Read only when a signedBy requirement needs a lookaside store (a warm `run` never parses it).</param>
    public PolicyVerifier(TrustPolicy policy, Func<RegistriesD> registriesD, InsecureOptions insecure, Action<string> warn, HttpClient lookasideHttp)
    {
        _policy = policy;
        _registriesD = new Lazy<RegistriesD>(registriesD);
        _insecure = insecure;
        _warn = warn;
        _lookaside = new LookasideReader(lookasideHttp);
    }

    public void CheckReference(ImageReference reference) => Check(reference, warn: true);

    private PolicyMatch Check(ImageReference reference, bool warn)
    {
        var match = _policy.Match(reference);
        if (warn && _insecure.HasFlag(InsecureOptions.Image))
        {
            if (match.Requirements.Any(r => r.NeedsSignatures || r is RejectRequirement))
            {
                _warn($"--insecure-options=image is ignored for {reference}: the policy {match.PolicyPath} ({match.Scope}) requires {string.Join(" and ", match.Requirements.Select(r => r.Describe()))}");
            }
            else if (reference.Transport == ImageTransport.Docker && match.AcceptsAnything)
            {
                _warn("image signature verification has been disabled");
            }
        }

        if (match.Requirements.Count == 0)
        {
            throw Refused(reference, match, "the scope lists no requirement, which denies every image");
        }

        if (match.Requirements.OfType<RejectRequirement>().FirstOrDefault() is { } reject)
        {
            throw Refused(reference, match, $"the policy rejects it (line {reject.Line})");
        }

        return match;
    }

    public async Task<VerificationRecord> VerifyAsync(ImageReference reference, Digest manifestDigest, IAttachedSignatureSource? attachments, CancellationToken cancellationToken)
    {
        var match = Check(reference, warn: false);
        var passed = new List<string>();
        foreach (var requirement in match.Requirements)
        {
            var outcome = requirement switch
            {
                InsecureAcceptAnything => "accepted without signatures (insecureAcceptAnything)",
                SignedByRequirement signedBy => await CheckSignedByAsync(reference, manifestDigest, signedBy, match, cancellationToken).ConfigureAwait(false),
                SigstoreSignedRequirement sigstore => await CheckSigstoreAsync(reference, manifestDigest, sigstore, attachments, match, cancellationToken).ConfigureAwait(false),
                _ => throw Refused(reference, match, $"the policy rejects it (line {requirement.Line})"),
            };
            passed.Add(outcome);
        }

        return new VerificationRecord(string.Join("; ", passed.Distinct()), match.Fingerprint, match.Requirements.Any(r => r.NeedsSignatures));
    }

    public bool IsCurrent(ImageReference reference, VerificationRecord? recorded)
    {
        var match = _policy.Match(reference);
        if (match.AcceptsAnything)
        {
            return true;
        }

        return recorded is not null && recorded.PolicyFingerprint == match.Fingerprint;
    }

    private async Task<string> CheckSignedByAsync(ImageReference reference, Digest manifestDigest, SignedByRequirement requirement, PolicyMatch match, CancellationToken cancellationToken)
    {
        if (requirement.KeyType != "GPGKeys")
        {
            throw Refused(reference, match, $"signedBy with keyType {requirement.KeyType} (line {requirement.Line}) cannot be checked: kubefly verifies GPGKeys only");
        }

        var storage = _registriesD.Value.For(reference);
        if (storage.Lookaside is not { } lookaside)
        {
            throw Refused(reference, match, $"signedBy (line {requirement.Line}) needs GPG signatures, and no registries.d file names a lookaside store for {reference.Name} (add \"lookaside: URL\" under \"docker:\" or \"default-docker:\" in {RegistriesD.SystemDirectory}/*.yaml)");
        }

        var verifier = SimpleSigningVerifier.FromKeyrings(requirement.Keys.Select(k => (k.Describe(), k.Read(SimpleSigningVerifier.MaxSignatureBytes))));
        var signatures = await _lookaside.ReadAsync(lookaside, reference, manifestDigest, cancellationToken).ConfigureAwait(false);
        if (signatures.Count == 0)
        {
            throw Refused(reference, match, $"signedBy (line {requirement.Line}) needs a GPG signature, and there is none at {LookasideReader.SignatureUri(lookaside, reference, manifestDigest, 1)}");
        }

        var reasons = new List<string>();
        foreach (var (signature, index) in signatures.Select((s, i) => (s, i + 1)))
        {
            try
            {
                var (payload, signer) = verifier.Verify(signature);
                if (Accept(reference, manifestDigest, payload, requirement.Identity) is { } problem)
                {
                    throw new UnacceptableSignatureException(problem);
                }

                return $"signedBy {signer} ({requirement.Keys[0].Describe()}{(requirement.Keys.Count > 1 ? ", ..." : string.Empty)})";
            }
            catch (UnacceptableSignatureException e)
            {
                reasons.Add($"signature-{index}: {e.Message}");
            }
        }

        throw Refused(reference, match, $"signedBy (line {requirement.Line}): no signature is acceptable: {Summarize(reasons)}");
    }

    private static async Task<string> CheckSigstoreAsync(ImageReference reference, Digest manifestDigest, SigstoreSignedRequirement requirement, IAttachedSignatureSource? attachments, PolicyMatch match, CancellationToken cancellationToken)
    {
        if (requirement.Unsupported is { } what)
        {
            throw Refused(reference, match, $"sigstoreSigned (line {requirement.Line}) {what}, which kubefly cannot check; use a key (keyPath, keyData)");
        }

        if (attachments is null)
        {
            throw Refused(reference, match, $"sigstoreSigned (line {requirement.Line}) needs cosign signatures, and a {PolicyScopes.TransportName(reference.Transport)}: image has no place to attach them");
        }

        using var verifier = SigstoreVerifier.FromPem(requirement.Keys.Select(k => (k.Describe(), k.Read(1 << 20))));
        var signatures = await attachments.GetAttachedSignaturesAsync(manifestDigest, cancellationToken).ConfigureAwait(false);
        if (signatures.Count == 0)
        {
            throw Refused(reference, match, $"sigstoreSigned (line {requirement.Line}) needs a cosign signature, and none is attached ({reference.Name}:{SigstoreTag(manifestDigest)})");
        }

        var reasons = new List<string>();
        foreach (var (signature, index) in signatures.Select((s, i) => (s, i + 1)))
        {
            try
            {
                var (payload, signer) = verifier.Verify(signature.Payload, signature.Signature);
                if (Accept(reference, manifestDigest, payload, requirement.Identity) is { } problem)
                {
                    throw new UnacceptableSignatureException(problem);
                }

                return $"sigstoreSigned by {signer}";
            }
            catch (UnacceptableSignatureException e)
            {
                reasons.Add($"signature {index}: {e.Message}");
            }
        }

        throw Refused(reference, match, $"sigstoreSigned (line {requirement.Line}): no signature is acceptable: {Summarize(reasons)}");
    }

    /// <summary>The tag cosign attaches signatures of a manifest under.</summary>
    public static string SigstoreTag(Digest manifestDigest) => $"{manifestDigest.Algorithm}-{manifestDigest.Hex}.sig";

    private static string? Accept(ImageReference reference, Digest manifestDigest, SignaturePayload payload, SignedIdentity identity)
    {
        if (!payload.ManifestDigest.FixedTimeEquals(manifestDigest))
        {
            return $"the signature is for manifest {payload.ManifestDigest}, not {manifestDigest}";
        }

        return identity.Mismatch(reference, payload.Identity);
    }

    private static string Summarize(List<string> reasons) =>
        string.Join("; ", reasons.Take(MaxReasons)) + (reasons.Count > MaxReasons ? $"; and {reasons.Count - MaxReasons} more" : string.Empty);

    private static TrustException Refused(ImageReference reference, PolicyMatch match, string why) =>
        new ImageRefusedException($"{reference} is refused by the policy {match.PolicyPath} ({match.Scope}): {why}");
}

/// <summary>The policy in force does not let the image in.</summary>
public sealed class ImageRefusedException(string message) : TrustException(message);
