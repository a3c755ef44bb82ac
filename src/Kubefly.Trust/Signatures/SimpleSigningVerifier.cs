using Kubefly.Oci;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;

namespace Kubefly.Trust.Signatures;

/// <summary>
/// Checks a "simple signing" signature (containers-signature(5)): an OpenPGP signed message whose
/// literal data is the JSON payload. The OpenPGP signature is verified against the trusted keys first;
/// only the bytes it covers are then read as JSON. Expired or revoked keys and expired signatures reject.
/// </summary>
public sealed class SimpleSigningVerifier
{
    public const long MaxSignatureBytes = 4 << 20;
    private const long MaxPayloadBytes = 4 << 20;
    private static readonly TimeSpan AllowedClockSkew = TimeSpan.FromMinutes(10);

    private readonly List<PgpPublicKeyRingBundle> _keyrings;
    private readonly Func<DateTimeOffset> _now;

    private SimpleSigningVerifier(List<PgpPublicKeyRingBundle> keyrings, Func<DateTimeOffset> now)
    {
        _keyrings = keyrings;
        _now = now;
    }

    /// <summary>Reads OpenPGP public keyrings (binary or ASCII-armored), as `gpg --export [--armor]` writes them.</summary>
    public static SimpleSigningVerifier FromKeyrings(IEnumerable<(string Description, byte[] Bytes)> keyrings, Func<DateTimeOffset>? now = null)
    {
        var bundles = new List<PgpPublicKeyRingBundle>();
        foreach (var (description, bytes) in keyrings)
        {
            try
            {
                using var decoded = PgpUtilities.GetDecoderStream(new MemoryStream(bytes, writable: false));
                var bundle = new PgpPublicKeyRingBundle(decoded);
                if (bundle.Count == 0)
                {
                    throw new TrustException($"{description} holds no OpenPGP public key");
                }

                bundles.Add(bundle);
            }
            catch (Exception e) when (e is not (TrustException or OutOfMemoryException))
            {
                // BouncyCastle is a parser of untrusted bytes: whatever it throws means "not a keyring".
                throw new TrustException($"{description} is not an OpenPGP public keyring ({Describe(e)}); export one with `gpg --export KEYID > FILE`");
            }
        }

        return new SimpleSigningVerifier(bundles, now ?? (() => DateTimeOffset.UtcNow));
    }

    /// <summary>The payload the signature covers, once its OpenPGP signature checked out; throws <see cref="UnacceptableSignatureException"/> otherwise.</summary>
    public (SignaturePayload Payload, string Signer) Verify(byte[] signature)
    {
        if (signature.Length > MaxSignatureBytes)
        {
            throw new UnacceptableSignatureException($"the signature is larger than the limit of {MaxSignatureBytes} bytes");
        }

        try
        {
            return VerifyOpenPgp(signature);
        }
        catch (Exception e) when (e is not (UnacceptableSignatureException or OutOfMemoryException))
        {
            // BouncyCastle parses the hostile bytes: whatever it throws (UnsupportedPacketVersionException,
            // IndexOutOfRangeException, ... found by fuzzing) means the signature is not one.
            throw new UnacceptableSignatureException($"not a valid OpenPGP signed message ({Describe(e)})");
        }
    }

    private (SignaturePayload Payload, string Signer) VerifyOpenPgp(byte[] signature)
    {
        using var decoded = PgpUtilities.GetDecoderStream(new MemoryStream(signature, writable: false));
        var factory = new PgpObjectFactory(decoded);
        var item = factory.NextPgpObject();
        if (item is PgpCompressedData compressed)
        {
            factory = new PgpObjectFactory(compressed.GetDataStream());
            item = factory.NextPgpObject();
        }

        if (item is not PgpOnePassSignatureList { Count: > 0 } onePassList)
        {
            throw new UnacceptableSignatureException("not an OpenPGP signed message (no one-pass signature packet)");
        }

        var onePass = onePassList[0];
        var (key, ring) = FindKey(onePass.KeyId)
            ?? throw new UnacceptableSignatureException($"signed by key {onePass.KeyId:X16}, which is not among the trusted keys");

        if (factory.NextPgpObject() is not PgpLiteralData literal)
        {
            throw new UnacceptableSignatureException("the signed message holds no literal data");
        }

        onePass.InitVerify(key);
        var payload = ReadBounded(literal.GetInputStream());
        onePass.Update(payload);

        if (factory.NextPgpObject() is not PgpSignatureList signatures)
        {
            throw new UnacceptableSignatureException("the signed message ends without its signature");
        }

        var matching = Enumerable.Range(0, signatures.Count).Select(i => signatures[i]).FirstOrDefault(s => s.KeyId == onePass.KeyId)
            ?? throw new UnacceptableSignatureException("the signed message's signature does not match its one-pass header");
        if (!onePass.Verify(matching))
        {
            throw new UnacceptableSignatureException($"the OpenPGP signature by key {onePass.KeyId:X16} does not verify (the signed data was altered)");
        }

        CheckValidity(key, ring, matching);
        var fingerprint = Convert.ToHexString(key.GetFingerprint());
        return (SignaturePayload.Parse(payload, SignaturePayload.SimpleSigningType), $"GPG key {fingerprint}");
    }

    private void CheckValidity(PgpPublicKey key, PgpPublicKeyRing ring, PgpSignature signature)
    {
        var now = _now();
        var master = ring.GetPublicKey();
        if (master.HasRevocation())
        {
            throw new UnacceptableSignatureException($"key {master.KeyId:X16} has been revoked");
        }

        if (!key.IsMasterKey && key.HasRevocation())
        {
            throw new UnacceptableSignatureException($"subkey {key.KeyId:X16} has been revoked");
        }

        foreach (var candidate in key.IsMasterKey ? [key] : new[] { master, key })
        {
            var valid = candidate.GetValidSeconds();
            if (valid > 0 && new DateTimeOffset(candidate.CreationTime, TimeSpan.Zero).AddSeconds(valid) < now)
            {
                throw new UnacceptableSignatureException($"key {candidate.KeyId:X16} expired on {new DateTimeOffset(candidate.CreationTime, TimeSpan.Zero).AddSeconds(valid):u}");
            }
        }

        var created = new DateTimeOffset(signature.CreationTime, TimeSpan.Zero);
        if (created > now + AllowedClockSkew)
        {
            throw new UnacceptableSignatureException($"the signature was made in the future ({created:u}); check the clocks");
        }

        var hashed = signature.GetHashedSubPackets();
        if (hashed is not null)
        {
            var lifetime = hashed.GetSignatureExpirationTime();
            if (lifetime > 0 && created.AddSeconds(lifetime) < now)
            {
                throw new UnacceptableSignatureException($"the signature expired on {created.AddSeconds(lifetime):u}");
            }
        }

        if (!key.IsMasterKey && BindingFlags(key) is { } flags && (flags & Org.BouncyCastle.Bcpg.Sig.KeyFlags.SignData) == 0)
        {
            throw new UnacceptableSignatureException($"subkey {key.KeyId:X16} is not a signing key");
        }
    }

    private static int? BindingFlags(PgpPublicKey key)
    {
        foreach (var binding in key.GetSignaturesOfType(PgpSignature.SubkeyBinding))
        {
            if (binding.GetHashedSubPackets() is { } packets && packets.HasSubpacket(SignatureSubpacketTag.KeyFlags))
            {
                return packets.GetKeyFlags();
            }
        }

        return null;
    }

    private (PgpPublicKey Key, PgpPublicKeyRing Ring)? FindKey(long keyId)
    {
        foreach (var bundle in _keyrings)
        {
            if (bundle.GetPublicKeyRing(keyId) is { } ring && ring.GetPublicKey(keyId) is { } key)
            {
                return (key, ring);
            }
        }

        return null;
    }

    private static byte[] ReadBounded(Stream stream)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            if (buffer.Length + read > MaxPayloadBytes)
            {
                throw new UnacceptableSignatureException($"the signed payload is larger than the limit of {MaxPayloadBytes} bytes");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static string Describe(Exception e) => RuntimeText.IsResourceKey(e.Message) || e.Message.Length == 0 ? "malformed data" : UntrustedText.Printable(e.Message);
}
