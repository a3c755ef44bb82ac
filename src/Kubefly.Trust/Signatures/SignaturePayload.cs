using Kubefly.Oci;
using Kubefly.Trust.Json;
using Kubefly.Trust.Policy;

namespace Kubefly.Trust.Signatures;

/// <summary>
/// What a signature vouches for, read only after its cryptography was verified (containers-signature(5)
/// and cosign's SIGNATURE_SPEC): a manifest digest and a docker reference. Parsed exactly: an unknown or
/// duplicate field under "critical" rejects the signature, since a signer's restriction kubefly does not
/// understand must not be ignored; "optional" may hold anything.
/// </summary>
public sealed record SignaturePayload(Digest ManifestDigest, DockerIdentity Identity)
{
    public const string SimpleSigningType = "atomic container signature";
    public const string CosignType = "cosign container image signature";

    public static SignaturePayload Parse(ReadOnlySpan<byte> json, string expectedType)
    {
        LocatedJson root;
        try
        {
            root = LocatedJson.Parse(json);
        }
        catch (LocatedJsonException e)
        {
            throw new UnacceptableSignatureException($"the signed payload is not valid JSON: {e.Message}");
        }

        var top = Exactly(root, "the payload", "critical", "optional");
        var optional = top["optional"];
        if (optional.Kind is not (LocatedJsonKind.Object or LocatedJsonKind.Null))
        {
            throw new UnacceptableSignatureException($"the payload's \"optional\" must be an object, not {optional.DescribeKind()}");
        }

        var critical = Exactly(top["critical"], "\"critical\"", "type", "image", "identity");
        var type = Text(critical["type"], "critical.type");
        if (type != expectedType)
        {
            throw new UnacceptableSignatureException($"the payload's type is \"{UntrustedText.Printable(type)}\", not \"{expectedType}\"");
        }

        var image = Exactly(critical["image"], "critical.image", "docker-manifest-digest");
        var digestText = Text(image["docker-manifest-digest"], "critical.image.docker-manifest-digest");
        if (!Digest.TryParse(digestText, out var digest, out var digestError))
        {
            throw new UnacceptableSignatureException($"the payload's manifest digest is invalid: {digestError}");
        }

        var identity = Exactly(critical["identity"], "critical.identity", "docker-reference");
        var referenceText = Text(identity["docker-reference"], "critical.identity.docker-reference");
        if (!DockerIdentity.TryParse(referenceText, out var reference, out var referenceError))
        {
            throw new UnacceptableSignatureException($"the payload's docker-reference \"{UntrustedText.Printable(referenceText)}\" is invalid: {referenceError}");
        }

        return new SignaturePayload(digest, reference);
    }

    private static Dictionary<string, LocatedJson> Exactly(LocatedJson node, string what, params string[] names)
    {
        if (node.Kind != LocatedJsonKind.Object)
        {
            throw new UnacceptableSignatureException($"{what} must be an object, not {node.DescribeKind()}");
        }

        var members = node.Members.ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal);
        if (members.Keys.FirstOrDefault(k => !names.Contains(k)) is { } unknown)
        {
            throw new UnacceptableSignatureException($"{what} has the unknown field \"{UntrustedText.Printable(unknown)}\"");
        }

        if (names.FirstOrDefault(n => !members.ContainsKey(n)) is { } missing)
        {
            throw new UnacceptableSignatureException($"{what} has no \"{missing}\"");
        }

        return members;
    }

    private static string Text(LocatedJson node, string what) =>
        node.Kind == LocatedJsonKind.String ? node.Text! : throw new UnacceptableSignatureException($"{what} must be a string, not {node.DescribeKind()}");
}

/// <summary>One signature that does not vouch for the image; the verifier collects these to explain a refusal.</summary>
public sealed class UnacceptableSignatureException(string message) : Exception(message);
