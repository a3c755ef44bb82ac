using System.Security.Cryptography;
using System.Text;
using Kubefly.Oci;
using Kubefly.Trust.Policy;

namespace Kubefly.Trust.Signatures;

/// <summary>
/// Makes cosign-format signatures (`kubefly image sign`), so the sign-and-verify loop works on a node
/// without cosign: the payload names the manifest digest and the reference as written (with its tag, as
/// containers/image's own signer does, so the default matchRepoDigestOrExact identity accepts it), signed
/// with ECDSA (SHA-256, DER) or RSA (PKCS#1 v1.5, SHA-256) from an unencrypted PEM private key.
/// </summary>
public sealed class SigstoreSigner : IDisposable
{
    private readonly ECDsa? _ecdsa;
    private readonly RSA? _rsa;

    private SigstoreSigner(ECDsa? ecdsa, RSA? rsa)
    {
        _ecdsa = ecdsa;
        _rsa = rsa;
    }

    public static SigstoreSigner FromPem(string description, byte[] bytes)
    {
        var text = Encoding.ASCII.GetString(bytes);
        if (!PemEncoding.TryFind(text, out var fields))
        {
            throw new TrustException($"{description} is not a PEM private key");
        }

        var label = text[fields.Label];
        if (label.Contains("ENCRYPTED", StringComparison.Ordinal))
        {
            throw new TrustException($"{description} is encrypted (\"{UntrustedText.Printable(label)}\"); give kubefly an unencrypted PKCS#8 key (`openssl pkcs8 -topk8 -nocrypt`), kept readable by root only");
        }

        try
        {
            switch (label)
            {
                case "EC PRIVATE KEY":
                case "PRIVATE KEY" when IsEc(text):
                    var ecdsa = ECDsa.Create();
                    ecdsa.ImportFromPem(text);
                    return new SigstoreSigner(ecdsa, null);
                case "RSA PRIVATE KEY":
                case "PRIVATE KEY":
                    var rsa = RSA.Create();
                    rsa.ImportFromPem(text);
                    return new SigstoreSigner(null, rsa);
                default:
                    throw new TrustException($"{description} holds a \"{UntrustedText.Printable(label)}\", not a private key");
            }
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new TrustException($"{description} is not a usable ECDSA or RSA private key");
        }
    }

    public static byte[] Payload(DockerIdentity identity, Digest manifestDigest) =>
        Encoding.UTF8.GetBytes($$$"""{"critical":{"identity":{"docker-reference":"{{{identity.Exact}}}"},"image":{"docker-manifest-digest":"{{{manifestDigest}}}"},"type":"{{{SignaturePayload.CosignType}}}"},"optional":null}""");

    /// <summary>The base64 signature over the exact payload bytes, as cosign's annotation carries it.</summary>
    public string Sign(byte[] payload) => Convert.ToBase64String(_ecdsa is not null
        ? _ecdsa.SignData(payload, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence)
        : _rsa!.SignData(payload, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    /// <summary>Whether <paramref name="base64Signature"/> over <paramref name="payload"/> was made by this key (ECDSA signatures differ each time).</summary>
    public bool Made(byte[] payload, string base64Signature)
    {
        try
        {
            var signature = Convert.FromBase64String(base64Signature);
            return _ecdsa is not null
                ? _ecdsa.VerifyData(payload, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence)
                : _rsa!.VerifyData(payload, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }
        catch (Exception e) when (e is FormatException or CryptographicException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _ecdsa?.Dispose();
        _rsa?.Dispose();
    }

    private static bool IsEc(string pem)
    {
        using var probe = ECDsa.Create();
        try
        {
            probe.ImportFromPem(pem);
            return true;
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            return false;
        }
    }
}
