using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Text;
using Kubefly.Oci;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace Kubefly.Trust.Signatures;

/// <summary>
/// Checks cosign's key-based signatures (cosign's SIGNATURE_SPEC, as containers/image checks them): a
/// signature over the exact payload bytes by one of the trusted public keys (PEM "PUBLIC KEY": ECDSA
/// with SHA-256 on any NIST curve, RSA PKCS#1 v1.5 with SHA-256, or Ed25519), then the payload itself.
/// </summary>
public sealed class SigstoreVerifier : IDisposable
{
    public const long MaxPayloadBytes = 4 << 20;
    private const string EcPublicKeyOid = "1.2.840.10045.2.1";
    private const string RsaEncryptionOid = "1.2.840.113549.1.1.1";
    private const string Ed25519Oid = "1.3.101.112";

    private readonly List<TrustedKey> _keys;

    private SigstoreVerifier(List<TrustedKey> keys) => _keys = keys;

    public static SigstoreVerifier FromPem(IEnumerable<(string Description, byte[] Bytes)> keys)
    {
        var trusted = new List<TrustedKey>();
        foreach (var (description, bytes) in keys)
        {
            trusted.Add(TrustedKey.Parse(description, bytes));
        }

        return new SigstoreVerifier(trusted);
    }

    /// <summary>The payload, once the signature checked out against a trusted key; throws <see cref="UnacceptableSignatureException"/> otherwise.</summary>
    public (SignaturePayload Payload, string Signer) Verify(byte[] payload, string base64Signature)
    {
        if (payload.Length > MaxPayloadBytes)
        {
            throw new UnacceptableSignatureException($"the signed payload is larger than the limit of {MaxPayloadBytes} bytes");
        }

        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(base64Signature);
        }
        catch (FormatException)
        {
            throw new UnacceptableSignatureException("the signature annotation is not valid base64");
        }

        var signer = _keys.FirstOrDefault(k => k.Verifies(payload, signature))
            ?? throw new UnacceptableSignatureException("the signature was not made by any trusted key (or the signed payload was altered)");
        return (SignaturePayload.Parse(payload, SignaturePayload.CosignType), signer.Description);
    }

    public void Dispose()
    {
        foreach (var key in _keys)
        {
            key.Dispose();
        }
    }

    private sealed class TrustedKey : IDisposable
    {
        private ECDsa? _ecdsa;
        private RSA? _rsa;
        private Ed25519PublicKeyParameters? _ed25519;

        private TrustedKey(string description) => Description = description;

        public string Description { get; }

        public static TrustedKey Parse(string description, byte[] bytes)
        {
            var text = Encoding.ASCII.GetString(bytes);
            if (!PemEncoding.TryFind(text, out var fields))
            {
                throw new TrustException($"{description} is not a PEM file (expected \"-----BEGIN PUBLIC KEY-----\", as `cosign generate-key-pair` writes cosign.pub)");
            }

            var label = text[fields.Label];
            if (label != "PUBLIC KEY")
            {
                throw new TrustException($"{description} holds a \"{UntrustedText.Printable(label)}\", not a \"PUBLIC KEY\"{(label.Contains("PRIVATE", StringComparison.Ordinal) ? " (never give the policy a private key)" : string.Empty)}");
            }

            var der = Convert.FromBase64String(text[fields.Base64Data]);
            var key = new TrustedKey(description);
            try
            {
                switch (AlgorithmOf(der))
                {
                    case EcPublicKeyOid:
                        key._ecdsa = ECDsa.Create();
                        key._ecdsa.ImportSubjectPublicKeyInfo(der, out _);
                        break;
                    case RsaEncryptionOid:
                        key._rsa = RSA.Create();
                        key._rsa.ImportSubjectPublicKeyInfo(der, out _);
                        break;
                    case Ed25519Oid:
                        key._ed25519 = (Ed25519PublicKeyParameters)Org.BouncyCastle.Security.PublicKeyFactory.CreateKey(der);
                        break;
                    case var other:
                        throw new TrustException($"{description}: unsupported key algorithm {other} (ECDSA, RSA and Ed25519 keys are supported)");
                }
            }
            catch (Exception e) when (e is CryptographicException or AsnContentException or ArgumentException or InvalidCastException)
            {
                key.Dispose();
                throw new TrustException($"{description} is not a valid public key");
            }

            return key;
        }

        public bool Verifies(byte[] payload, byte[] signature)
        {
            try
            {
                if (_ecdsa is not null)
                {
                    return _ecdsa.VerifyData(payload, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
                }

                if (_rsa is not null)
                {
                    return _rsa.VerifyData(payload, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                }

                var verifier = new Ed25519Signer();
                verifier.Init(false, _ed25519);
                verifier.BlockUpdate(payload, 0, payload.Length);
                return verifier.VerifySignature(signature);
            }
            catch (CryptographicException)
            {
                return false;
            }
        }

        public void Dispose()
        {
            _ecdsa?.Dispose();
            _rsa?.Dispose();
        }

        private static string AlgorithmOf(byte[] subjectPublicKeyInfo) =>
            new AsnReader(subjectPublicKeyInfo, AsnEncodingRules.DER).ReadSequence().ReadSequence().ReadObjectIdentifier();
    }
}
