using System.Text;
using Kubefly.Images.Sources;
using Kubefly.Oci;
using Kubefly.Trust;
using Kubefly.Trust.Signatures;

namespace Kubefly.Images.Registry;

/// <summary>
/// An image in a registry. The first endpoint (mirror, then origin) that serves the manifest is used
/// from then on; a blob another endpoint must supply is fetched from the next ones in order.
/// </summary>
public sealed class RegistrySource : IImageSource, IAttachedSignatureSource, IRangedBlobSource
{
    private const int MaxAttachedSignatures = 64;
    private const string CosignSignatureAnnotation = "dev.cosignproject.cosign/signature";

    private readonly RegistryClient _client;
    private readonly bool _ownsClient;
    private readonly IReadOnlyList<RegistryEndpoint> _endpoints;
    private int _preferred;

    public RegistrySource(ImageReference reference, RegistryClient client, bool ownsClient = false)
    {
        Reference = reference;
        _client = client;
        _ownsClient = ownsClient;
        _endpoints = client.ResolveEndpoints(reference);
    }

    public ImageReference Reference { get; }

    /// <summary>Where requests go, in the order tried.</summary>
    public IReadOnlyList<RegistryEndpoint> Endpoints => _endpoints;

    /// <summary>The endpoint that served the last manifest (the first one until then).</summary>
    public RegistryEndpoint CurrentEndpoint => _endpoints[_preferred];

    public Task<RawManifest> GetManifestAsync(Digest? digest, CancellationToken cancellationToken)
    {
        var reference = (digest ?? Reference.Digest)?.ToString() ?? Reference.Tag ?? "latest";
        return TryEndpointsAsync(
            "manifest " + reference,
            (endpoint, token) => _client.GetManifestAsync(endpoint, reference, Reference, token),
            rememberWinner: true,
            cancellationToken);
    }

    public Task<Stream> OpenBlobUnverifiedAsync(Descriptor blob, CancellationToken cancellationToken) =>
        TryEndpointsAsync(
            "blob " + blob.Digest,
            (endpoint, token) => _client.OpenBlobUnverifiedAsync(endpoint, blob, Reference, token),
            rememberWinner: false,
            cancellationToken);

    /// <summary>Ranges come from the endpoint that served the manifest: a partial pull never mixes endpoints.</summary>
    public Task<RangeReadResult> ReadRangesAsync(Descriptor blob, IReadOnlyList<ByteRange> ranges, Func<long, ReadOnlyMemory<byte>, CancellationToken, ValueTask> write, CancellationToken cancellationToken) =>
        _client.ReadRangesAsync(CurrentEndpoint, blob, ranges, Reference, write, cancellationToken);

    /// <summary>
    /// cosign's attachments: the OCI manifest at the sha256-HEX.sig tag, one layer per signature whose
    /// blob is the signed payload and whose annotation carries the signature. No such tag, no signatures.
    /// </summary>
    public async Task<IReadOnlyList<AttachedSignature>> GetAttachedSignaturesAsync(Digest manifestDigest, CancellationToken cancellationToken)
    {
        var tag = PolicyVerifier.SigstoreTag(manifestDigest);
        RawManifest raw;
        try
        {
            // Signatures travel with the image: they are read where its manifest was (a mirror that
            // serves an image serves its .sig tag too), and "none there" is the answer, not a reason to
            // ask an origin the node may not reach.
            raw = await _client.GetManifestAsync(CurrentEndpoint, tag, Reference, cancellationToken).ConfigureAwait(false);
        }
        catch (ManifestUnknownException)
        {
            return [];
        }

        // Not an image manifest (its layers are payloads, not tars): only the descriptors are read.
        var manifest = ManifestResolver.Parse(raw.Bytes, OciJsonContext.Default.ImageManifest, Reference, $"signature manifest {tag}");
        var signatures = new List<AttachedSignature>();
        foreach (var layer in (manifest.Layers ?? []).Where(l => l.MediaType == MediaTypes.CosignSimpleSigning).Take(MaxAttachedSignatures))
        {
            if (layer.Annotations?.GetValueOrDefault(CosignSignatureAnnotation) is not { Length: > 0 } signature)
            {
                continue;
            }

            if (layer.Size > SigstoreVerifier.MaxPayloadBytes)
            {
                throw new ImageException($"{Reference.Name}:{tag}: signature payload {layer.Digest} is {layer.Size} bytes (limit {SigstoreVerifier.MaxPayloadBytes})");
            }

            var stream = await OpenBlobUnverifiedAsync(layer, cancellationToken).ConfigureAwait(false);
            await using var verified = new DigestingStream(stream, $"{Reference.Name}:{tag} payload {layer.Digest}", layer.Digest, layer.Size);
            var payload = new MemoryStream();
            await verified.CopyToAsync(payload, cancellationToken).ConfigureAwait(false);
            signatures.Add(new AttachedSignature(payload.ToArray(), signature));
        }

        return signatures;
    }

    /// <summary>
    /// Attaches a cosign signature to the manifest with <paramref name="manifestDigest"/> at the image's
    /// origin registry (never a mirror): the payload as a layer of the sha256-HEX.sig manifest, keeping
    /// the signatures already attached there, as cosign does.
    /// </summary>
    /// <param name="signedByTheSameKey">Whether an attached signature over the same payload was made by the signing key: then nothing is added.</param>
    public async Task AttachSignatureAsync(Digest manifestDigest, AttachedSignature signature, Func<string, bool> signedByTheSameKey, CancellationToken cancellationToken)
    {
        var origin = _endpoints[^1];
        var tag = PolicyVerifier.SigstoreTag(manifestDigest);
        var layers = new List<Descriptor>();
        try
        {
            var existing = await _client.GetManifestAsync(origin, tag, Reference, cancellationToken).ConfigureAwait(false);
            layers.AddRange((ManifestResolver.Parse(existing.Bytes, OciJsonContext.Default.ImageManifest, Reference, $"signature manifest {tag}").Layers ?? []).Take(MaxAttachedSignatures - 1));
        }
        catch (ManifestUnknownException)
        {
        }

        var payloadDigest = Digest.Compute(signature.Payload);
        if (layers.Any(l => l.Digest == payloadDigest && l.Annotations?.GetValueOrDefault(CosignSignatureAnnotation) is { } existing && signedByTheSameKey(existing)))
        {
            return;
        }

        var config = "{\"architecture\":\"\",\"os\":\"\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"u8.ToArray();
        await _client.PushBlobAsync(origin, signature.Payload, Reference, cancellationToken).ConfigureAwait(false);
        await _client.PushBlobAsync(origin, config, Reference, cancellationToken).ConfigureAwait(false);
        layers.Add(new Descriptor
        {
            MediaType = MediaTypes.CosignSimpleSigning,
            Digest = payloadDigest,
            Size = signature.Payload.Length,
            Annotations = new Dictionary<string, string> { [CosignSignatureAnnotation] = signature.Signature },
        });
        var manifest = new ImageManifest
        {
            SchemaVersion = 2,
            MediaType = MediaTypes.OciManifest,
            Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = Digest.Compute(config), Size = config.Length },
            Layers = layers,
        };
        var bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Default.ImageManifest);
        await _client.PushManifestAsync(origin, tag, bytes, MediaTypes.OciManifest, Reference, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    private async Task<T> TryEndpointsAsync<T>(string what, Func<RegistryEndpoint, CancellationToken, Task<T>> fetch, bool rememberWinner, CancellationToken cancellationToken)
    {
        var order = Enumerable.Range(0, _endpoints.Count).OrderBy(i => i == _preferred ? 0 : 1).ThenBy(i => i).ToList();
        var failures = new List<(RegistryEndpoint Endpoint, Exception Error)>();
        foreach (var index in order)
        {
            var endpoint = _endpoints[index];
            try
            {
                var result = await fetch(endpoint, cancellationToken).ConfigureAwait(false);
                if (rememberWinner)
                {
                    _preferred = index;
                }

                return result;
            }
            catch (KubeflyException e) when (!cancellationToken.IsCancellationRequested)
            {
                failures.Add((endpoint, e));
                if (failures.Count < order.Count)
                {
                    _client.Options.Log?.Invoke($"{Reference}: {what} from {endpoint.Description} failed ({RuntimeText.Describe(e)}); trying {_endpoints[order[failures.Count]].Description}");
                }
            }
        }

        if (failures.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failures[0].Error).Throw();
        }

        var message = new StringBuilder($"{Reference}: no endpoint served the {what}:");
        foreach (var (endpoint, error) in failures)
        {
            message.Append("\n  ").Append(endpoint.Description).Append(": ").Append(RuntimeText.Describe(error));
        }

        throw new ImageException(message.ToString(), failures[^1].Error);
    }
}
