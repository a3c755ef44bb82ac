using System.Security.Cryptography;
using System.Text;
using Kubefly.Oci;
using Kubefly.Trust;
using Kubefly.Trust.Signatures;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.X509;
using SecureRandom = Org.BouncyCastle.Security.SecureRandom;

namespace Kubefly.Tests.Unit.Trust;

/// <summary>cosign key-based signatures and the payload both signature kinds carry.</summary>
public sealed class SignatureVerificationTests
{
    private static readonly Digest Manifest = Digest.Compute("a manifest"u8.ToArray());

    public static string CosignPayload(string reference, Digest digest, string extraCritical = "") =>
        $$"""{"critical":{"identity":{"docker-reference":"{{reference}}"},"image":{"docker-manifest-digest":"{{digest}}"},"type":"cosign container image signature"{{extraCritical}}},"optional":null}""";

    [Fact]
    public void Ecdsa_p256_rsa_and_ed25519_keys_verify_the_exact_payload_bytes()
    {
        var payload = Encoding.UTF8.GetBytes(CosignPayload("example.com/app", Manifest));
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var rsa = RSA.Create(2048);
        var ed25519 = new Ed25519KeyPairGenerator();
        ed25519.Init(new Ed25519KeyGenerationParameters(new SecureRandom()));
        var edPair = ed25519.GenerateKeyPair();
        var edSigner = new Ed25519Signer();
        edSigner.Init(true, edPair.Private);
        edSigner.BlockUpdate(payload, 0, payload.Length);

        var cases = new (string Pem, byte[] Signature)[]
        {
            (ecdsa.ExportSubjectPublicKeyInfoPem(), ecdsa.SignData(payload, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence)),
            (rsa.ExportSubjectPublicKeyInfoPem(), rsa.SignData(payload, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)),
            (PemEncoding.WriteString("PUBLIC KEY", SubjectPublicKeyInfoFactory.CreateSubjectPublicKeyInfo(edPair.Public).GetDerEncoded()), edSigner.GenerateSignature()),
        };

        foreach (var (pem, signature) in cases)
        {
            using var verifier = SigstoreVerifier.FromPem([("key file /k.pub", Encoding.ASCII.GetBytes(pem))]);
            var (accepted, signer) = verifier.Verify(payload, Convert.ToBase64String(signature));
            Assert.Equal(Manifest, accepted.ManifestDigest);
            Assert.Equal("example.com/app", accepted.Identity.Exact);
            Assert.Equal("key file /k.pub", signer);

            var flipped = (byte[])payload.Clone();
            flipped[^3] ^= 0x01;
            Assert.Throws<UnacceptableSignatureException>(() => verifier.Verify(flipped, Convert.ToBase64String(signature)));
            var badSignature = (byte[])signature.Clone();
            badSignature[^1] ^= 0x01;
            Assert.Throws<UnacceptableSignatureException>(() => verifier.Verify(payload, Convert.ToBase64String(badSignature)));
        }
    }

    [Fact]
    public void A_signature_by_another_key_is_refused()
    {
        var payload = Encoding.UTF8.GetBytes(CosignPayload("example.com/app", Manifest));
        using var trusted = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var verifier = SigstoreVerifier.FromPem([("trusted", Encoding.ASCII.GetBytes(trusted.ExportSubjectPublicKeyInfoPem()))]);

        var error = Assert.Throws<UnacceptableSignatureException>(() => verifier.Verify(payload, Convert.ToBase64String(other.SignData(payload, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence))));

        Assert.Contains("not made by any trusted key", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n", "never give the policy a private key")]
    [InlineData("not a pem file", "not a PEM file")]
    [InlineData("-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n", "not a valid public key")]
    public void A_key_file_that_is_not_a_public_key_is_named(string content, string message)
    {
        var error = Assert.Throws<TrustException>(() => SigstoreVerifier.FromPem([("key file /etc/k.pub", Encoding.ASCII.GetBytes(content))]));

        Assert.Contains("key file /etc/k.pub", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> BadPayloads => new()
    {
        { CosignPayload("example.com/app", Manifest, ",\"constraint\":\"none\""), "unknown field \"constraint\"" },
        { CosignPayload("example.com/app", Manifest).Replace("cosign container image signature", "atomic container signature", StringComparison.Ordinal), "not \"cosign container image signature\"" },
        { CosignPayload("example.com/app", Manifest).Replace(",\"optional\":null", string.Empty, StringComparison.Ordinal), "no \"optional\"" },
        { CosignPayload("example.com/app", Manifest).Replace("\"optional\":null", "\"optional\":null,\"optional\":{}", StringComparison.Ordinal), "duplicate key" },
        { CosignPayload("example.com/app", Manifest).Replace(Manifest.ToString(), "sha256:abc", StringComparison.Ordinal), "manifest digest is invalid" },
        { CosignPayload("Not/A/Reference", Manifest), "docker-reference" },
        { CosignPayload("example.com/app", Manifest).Replace("{\"docker-reference\"", "{\"docker-reference\":\"x\",\"docker-reference2\"", StringComparison.Ordinal), "unknown field \"docker-reference2\"" },
        { "[]", "must be an object" },
    };

    [Theory]
    [MemberData(nameof(BadPayloads))]
    public void A_signed_payload_with_an_unknown_or_malformed_critical_field_is_refused(string payload, string message)
    {
        var error = Assert.Throws<UnacceptableSignatureException>(() => SignaturePayload.Parse(Encoding.UTF8.GetBytes(payload), SignaturePayload.CosignType));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Optional_fields_are_free_form()
    {
        var payload = CosignPayload("example.com/app", Manifest).Replace("\"optional\":null", "\"optional\":{\"creator\":\"x\",\"anything\":[1,2]}", StringComparison.Ordinal);

        Assert.Equal(Manifest, SignaturePayload.Parse(Encoding.UTF8.GetBytes(payload), SignaturePayload.CosignType).ManifestDigest);
    }
}
