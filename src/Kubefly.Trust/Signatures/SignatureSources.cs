using System.Net;
using Kubefly.Oci;

namespace Kubefly.Trust.Signatures;

/// <summary>A cosign signature attached in the registry: the exact payload bytes and the base64 signature over them.</summary>
public sealed record AttachedSignature(byte[] Payload, string Signature);

/// <summary>
/// Where cosign signatures attached to an image are read: the sha256-HEX.sig tag of its repository
/// (implemented by the registry source in the image engine, which knows auth and mirrors).
/// </summary>
public interface IAttachedSignatureSource
{
    /// <summary>Every signature attached to the manifest with <paramref name="manifestDigest"/>; empty when none are.</summary>
    Task<IReadOnlyList<AttachedSignature>> GetAttachedSignaturesAsync(Digest manifestDigest, CancellationToken cancellationToken);
}

/// <summary>
/// Reads simple signatures from a lookaside store (containers-registries.d(5)):
/// BASE/REPOSITORY@sha256=HEX/signature-N for N = 1, 2, ... until the first one missing.
/// </summary>
public sealed class LookasideReader(HttpClient http)
{
    public const int MaxSignatures = 64;

    public async Task<IReadOnlyList<byte[]>> ReadAsync(Uri lookaside, ImageReference reference, Digest manifestDigest, CancellationToken cancellationToken)
    {
        var signatures = new List<byte[]>();
        for (var index = 1; index <= MaxSignatures; index++)
        {
            var location = SignatureUri(lookaside, reference, manifestDigest, index);
            var signature = location.IsFile
                ? ReadFile(location)
                : await ReadHttpAsync(location, cancellationToken).ConfigureAwait(false);
            if (signature is null)
            {
                break;
            }

            signatures.Add(signature);
        }

        return signatures;
    }

    public static Uri SignatureUri(Uri lookaside, ImageReference reference, Digest manifestDigest, int index)
    {
        var basePath = lookaside.AbsolutePath.TrimEnd('/');
        var builder = new UriBuilder(lookaside) { Path = $"{basePath}/{reference.Repository}@{manifestDigest.Algorithm}={manifestDigest.Hex}/signature-{index}" };
        return builder.Uri;
    }

    private static byte[]? ReadFile(Uri location)
    {
        var path = location.LocalPath;
        if (!File.Exists(path))
        {
            return null;
        }

        return BoundedFile.Read(path, SimpleSigningVerifier.MaxSignatureBytes, "signature file");
    }

    private async Task<byte[]?> ReadHttpAsync(Uri location, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync(location, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new TrustException($"reading signature {location}: HTTP {(int)response.StatusCode} {response.StatusCode}");
            }

            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var buffer = new MemoryStream();
            var chunk = new byte[16384];
            int read;
            while ((read = await body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > SimpleSigningVerifier.MaxSignatureBytes)
                {
                    throw new TrustException($"signature {location} is larger than the limit of {SimpleSigningVerifier.MaxSignatureBytes} bytes");
                }

                buffer.Write(chunk, 0, read);
            }

            return buffer.ToArray();
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new TrustException($"reading signature {location}: {RuntimeText.Describe(e)}");
        }
    }
}
