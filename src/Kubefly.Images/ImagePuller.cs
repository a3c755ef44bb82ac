using Kubefly.Images.Chunked;
using Kubefly.Images.Sources;
using Kubefly.Images.Store;
using Kubefly.Images.Unpacking;
using Kubefly.Oci;
using Kubefly.Trust;
using Kubefly.Trust.Signatures;

namespace Kubefly.Images;

public enum PullPolicy
{
    /// <summary>Use the stored image when there is one; fetch otherwise (rkt's default).</summary>
    New,

    /// <summary>Only ever use the store.</summary>
    Never,

    /// <summary>Always ask the source; reuse stored content when the digest did not change.</summary>
    Update,
}

/// <summary>
/// Gets an image into the store: checks trust, resolves the manifest for the platform, then streams
/// every layer once through download -> verify -> decompress -> verify diff_id -> unpack, in parallel.
/// Nothing gets a name in the store before it is verified; the image record is written last.
/// </summary>
public sealed class ImagePuller
{
    private readonly ImageStore _store;
    private readonly Func<ImageReference, TempArea, IImageSource> _openSource;
    private readonly IImageVerifier _verifier;
    private readonly IPullProgress _progress;
    private readonly Platform _platform;
    private readonly int _parallelism;

    public ImagePuller(ImageStore store, Func<ImageReference, TempArea, IImageSource> openSource, IImageVerifier verifier, IPullProgress progress, Platform platform, int parallelism = 3)
    {
        _store = store;
        _openSource = openSource;
        _verifier = verifier;
        _progress = progress;
        _platform = platform;
        _parallelism = parallelism;
    }

    /// <summary>The stored image for <paramref name="image"/> (a name, reference or ID), fetching per the policy.</summary>
    public async Task<ImageRecord> AcquireAsync(string image, PullPolicy policy, CancellationToken cancellationToken)
    {
        // A stored image only answers for the platform it was fetched for (--platform may ask for another).
        if (policy != PullPolicy.Update && _store.Find(image) is { } stored && (stored.Platform.Length == 0 || stored.Platform == _platform.ToString()))
        {
            return await RecheckAsync(stored, image, cancellationToken).ConfigureAwait(false);
        }

        if (policy == PullPolicy.Never)
        {
            throw new ImageException($"image \"{UntrustedText.Printable(image)}\" is not in the store and --pull-policy=never forbids fetching it: fetch it first (kubefly fetch), or import its archive (kubefly image import)");
        }

        return await PullAsync(ImageReference.Parse(image), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Whether zstd:chunked layers may be pulled partially: only the files the store lacks, by range
    /// request (on by default; `fetch --partial=false` turns it off). Layers pulled so have no stored blob.
    /// </summary>
    public bool PartialPulls { get; set; } = true;

    public Task<ImageRecord> PullAsync(ImageReference reference, CancellationToken cancellationToken) =>
        PullAsync(reference, reference, names: null, cancellationToken);

    /// <param name="policyReference">The image as the trust policy sees it (an imported archive's own path, not its decompressed copy).</param>
    /// <param name="names">The names to give the stored image, chosen once its source read the manifest; null: the reference itself.</param>
    public async Task<ImageRecord> PullAsync(ImageReference reference, ImageReference policyReference, Func<IImageSource, IReadOnlyList<string>>? names, CancellationToken cancellationToken)
    {
        _verifier.CheckReference(policyReference);
        using var storeLock = _store.LockStore(exclusive: false);
        _store.CleanStaleTemporaries();
        using var scratch = _store.CreateTempArea();
        using var source = _openSource(reference, scratch);

        var root = await source.GetManifestAsync(reference.Digest, cancellationToken).ConfigureAwait(false);
        var verification = await _verifier.VerifyAsync(policyReference, root.Digest, source as IAttachedSignatureSource, cancellationToken).ConfigureAwait(false);
        if (verification.SignaturesChecked)
        {
            _progress.Message($"{reference}: {verification.Summary}");
        }

        var imageNames = names?.Invoke(source) ?? [reference.ToString()];

        var resolved = await ManifestResolver.ResolveAsync(source, root, _platform, cancellationToken).ConfigureAwait(false);
        var manifestDigest = resolved.Raw.Digest;

        if (_store.FindRecord(manifestDigest) is { } existing && existing.Layers.All(IsComplete))
        {
            _progress.Message($"image {manifestDigest} already in the store");
            return RenameAll(existing with { Verified = verification.Summary, VerifiedPolicy = verification.PolicyFingerprint }, imageNames);
        }

        var configBytes = await ReadSmallBlobAsync(source, resolved.Manifest.Config, "image config", cancellationToken).ConfigureAwait(false);
        var config = ManifestResolver.ParseConfig(configBytes, reference.ToString());
        if (config.RootFs.Type != "layers")
        {
            throw new ImageException($"{reference}: the image config's rootfs type is \"{UntrustedText.Printable(config.RootFs.Type)}\", not \"layers\"");
        }

        var diffIds = config.RootFs.DiffIds;
        if (diffIds.Count != resolved.Manifest.Layers.Count)
        {
            throw new ImageException($"{reference}: the config lists {diffIds.Count} diff_ids for {resolved.Manifest.Layers.Count} layers");
        }

        // A single-platform image names its platform only in its config: check it before any download,
        // or an arm64 image fetched on amd64 fails only at exec.
        if ((config.Os.Length > 0 && config.Os != _platform.Os) || (config.Architecture.Length > 0 && config.Architecture != _platform.Architecture))
        {
            var has = config.Variant is { Length: > 0 } variant ? $"{config.Os}/{config.Architecture}/{variant}" : $"{config.Os}/{config.Architecture}";
            throw new ImageException($"{reference}: the image is for platform {has} only, not {_platform} (choose another with --platform, or another image)");
        }

        var layers = resolved.Manifest.Layers.Select((layer, i) => new LayerRecord { Blob = layer.Digest, DiffId = diffIds[i], MediaType = layer.MediaType, Size = layer.Size }).ToList();
        var staged = new List<StagedLayer>();
        var descriptors = new Dictionary<Digest, Descriptor>();
        foreach (var descriptor in resolved.Manifest.Layers)
        {
            descriptors.TryAdd(descriptor.Digest, descriptor);
        }

        // Every lock this pull needs, taken in digest order before any work: concurrent pulls of images
        // sharing layers then wait for each other instead of deadlocking, and the waiter finds the layers
        // committed when it gets the locks.
        var locks = layers.Select(l => l.DiffId).Distinct().Where(d => !_store.HasLayer(d)).OrderBy(d => d.Hex, StringComparer.Ordinal).Select(_store.LockItem).ToList();
        try
        {
            using (var limiter = new SemaphoreSlim(_parallelism))
            {
                var tasks = layers.Distinct().Select(layer => Task.Run(
                    async () =>
                    {
                        await limiter.WaitAsync(cancellationToken).ConfigureAwait(false);
                        try
                        {
                            return await StageLayerAsync(source, layer, descriptors[layer.Blob], reference, scratch, cancellationToken).ConfigureAwait(false);
                        }
                        finally
                        {
                            limiter.Release();
                        }
                    },
                    cancellationToken)).ToList();
                staged.AddRange((await Task.WhenAll(tasks).ConfigureAwait(false)).OfType<StagedLayer>());
            }

            // One flush for everything staged, then the renames that give it names: after a crash a name
            // in the store still only ever points at durable, verified content.
            if (staged.Count > 0)
            {
                LayerUnpacker.SyncFilesystem(scratch.Path);
                foreach (var layerStage in staged)
                {
                    layerStage.Commit(_store);
                    _progress.LayerFinished(layerStage.Layer.Blob, alreadyPresent: false);
                }
            }
        }
        finally
        {
            foreach (var itemLock in locks)
            {
                itemLock.Dispose();
            }
        }

        _store.PutBlob(resolved.Manifest.Config.Digest, configBytes);
        _store.PutBlob(manifestDigest, resolved.Raw.Bytes);
        if (root.Digest != manifestDigest)
        {
            _store.PutBlob(root.Digest, root.Bytes);
        }

        var now = DateTimeOffset.UtcNow;
        var record = new ImageRecord
        {
            ManifestDigest = manifestDigest,
            ManifestMediaType = string.IsNullOrEmpty(resolved.Raw.MediaType) ? resolved.Manifest.MediaType ?? MediaTypes.OciManifest : resolved.Raw.MediaType,
            IndexDigest = root.Digest != manifestDigest ? root.Digest : null,
            ConfigDigest = resolved.Manifest.Config.Digest,
            Names = [],
            Layers = layers,
            Platform = _platform.ToString(),
            ImportTime = now,
            LastUsed = now,
            Size = resolved.Raw.Bytes.Length + configBytes.Length + layers.Distinct().Sum(l => l.Size),
            Verified = verification.Summary,
            VerifiedPolicy = verification.PolicyFingerprint,
        };
        return RenameAll(record, imageNames);
    }

    /// <summary>
    /// A layer the store can serve: unpacked, and its blob either stored or (partial pulls allowed)
    /// shown to produce its diff_id by a partial pull that kept no blob.
    /// </summary>
    private bool IsComplete(LayerRecord layer) =>
        _store.HasLayer(layer.DiffId) && (_store.HasBlob(layer.Blob) || (PartialPulls && _store.IsVerifiedDiffId(layer.Blob, layer.DiffId)));

    private ImageRecord RenameAll(ImageRecord record, IReadOnlyList<string> names)
    {
        if (names.Count == 0)
        {
            _store.WriteRecord(record);
            return record;
        }

        foreach (var name in names)
        {
            record = _store.Name(record, name);
        }

        return record;
    }

    /// <summary>
    /// A stored image about to be used: when the policy in force asks for more than the image was checked
    /// for (it came in under a weaker policy), its signatures are checked again before it may run.
    /// </summary>
    private async Task<ImageRecord> RecheckAsync(ImageRecord stored, string image, CancellationToken cancellationToken)
    {
        var name = stored.Names.Contains(image) ? image : stored.Names.FirstOrDefault(n => ImageReference.TryParse(n, out _, out _));
        if (name is null || !ImageReference.TryParse(name, out var reference, out _))
        {
            return stored;
        }

        var recorded = stored.Verified.Length == 0 ? null : new VerificationRecord(stored.Verified, stored.VerifiedPolicy);
        if (_verifier.IsCurrent(reference, recorded))
        {
            return stored;
        }

        _verifier.CheckReference(reference);
        var signed = stored.IndexDigest ?? stored.ManifestDigest;
        using var storeLock = _store.LockStore(exclusive: false);
        using var scratch = _store.CreateTempArea();
        using var source = _openSource(reference, scratch);
        var verification = await _verifier.VerifyAsync(reference, signed, source as IAttachedSignatureSource, cancellationToken).ConfigureAwait(false);
        _progress.Message($"image {name} verified again under the policy in force: {verification.Summary}");
        var updated = stored with { Verified = verification.Summary, VerifiedPolicy = verification.PolicyFingerprint };
        _store.WriteRecord(updated);
        return updated;
    }

    private static async Task<byte[]> ReadSmallBlobAsync(IImageSource source, Descriptor descriptor, string what, CancellationToken cancellationToken)
    {
        const long MaxSmallBlob = 16 << 20;
        if (descriptor.Size > MaxSmallBlob)
        {
            throw new ImageException($"{source.Reference}: {what} {descriptor.Digest} is {descriptor.Size} bytes (limit {MaxSmallBlob})");
        }

        var stream = await source.OpenBlobUnverifiedAsync(descriptor, cancellationToken).ConfigureAwait(false);
        await using var verified = new DigestingStream(stream, $"{source.Reference} {what} {descriptor.Digest}", descriptor.Digest, descriptor.Size);
        var buffer = new MemoryStream((int)descriptor.Size);
        await verified.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return buffer.ToArray();
    }

    /// <summary>
    /// Downloads, verifies and unpacks one layer into the pull's scratch space (the caller holds the
    /// layer's lock and commits it after the flush); null when the store already has it. "Has it" means
    /// this very blob was once decompressed and hashed to the diff_id this config claims: a stored layer
    /// with that diff_id and a stored blob with that digest prove nothing about each other, since any
    /// config can pair any blob with any diff_id.
    /// </summary>
    private async Task<StagedLayer?> StageLayerAsync(IImageSource source, LayerRecord layer, Descriptor descriptor, ImageReference reference, TempArea scratch, CancellationToken cancellationToken)
    {
        var haveLayer = _store.HasLayer(layer.DiffId);
        var haveBlob = _store.HasBlob(layer.Blob);
        if (haveLayer && (haveBlob || PartialPulls) && _store.IsVerifiedDiffId(layer.Blob, layer.DiffId))
        {
            _progress.LayerFinished(layer.Blob, alreadyPresent: true);
            return null;
        }

        _progress.LayerStarted(layer.Blob, layer.Size);
        var description = $"{layer.Blob} of {reference}";
        if (PartialPulls && !haveLayer && !haveBlob && source is IRangedBlobSource ranged
            && await StagePartiallyAsync(ranged, layer, descriptor, description, scratch, cancellationToken).ConfigureAwait(false) is { } partial)
        {
            return partial;
        }
        Stream raw = haveBlob
            ? new FileStream(_store.BlobPath(layer.Blob), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16)
            : await source.OpenBlobUnverifiedAsync(new Descriptor { Digest = layer.Blob, Size = layer.Size, MediaType = layer.MediaType }, cancellationToken).ConfigureAwait(false);

        var blobTemp = haveBlob ? null : scratch.NewFilePath();
        var staging = haveLayer ? null : scratch.NewFilePath();
        string? fileTable = null;
        using (var compressed = new DigestingStream(raw, $"layer {description}", layer.Blob, layer.Size))
        {
            using (var blobFile = blobTemp is null ? Stream.Null : new FileStream(blobTemp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                var tee = new TeeReadStream(compressed, blobFile, bytes => _progress.LayerAdvanced(layer.Blob, bytes));
                using var decompressed = LayerDecompression.Open(tee, MediaTypes.LayerCompressionOf(layer.MediaType), description);
                using var uncompressed = new DigestingStream(decompressed, $"layer {description} (uncompressed, diff_id)", layer.DiffId, leaveOpen: true, hashInBackground: true);
                try
                {
                    if (staging is not null)
                    {
                        Directory.CreateDirectory(staging);
                        fileTable = scratch.NewFilePath();
                        using var table = new LayerFileTable.Writer(fileTable);
                        new LayerUnpacker(UnpackMode.OverlayLayer, UnpackLimits.Default, _progress.Message) { FileSink = table }.Unpack(uncompressed, staging, description, cancellationToken);
                    }

                    // Already unpacked for another image (stored with other compression, or the blob is
                    // stored but never shown to produce this diff_id): still hash what this blob decompresses to.
                    uncompressed.DrainAndVerify();
                }
                catch (LayerException)
                {
                    ThrowIfBlobIsNotTheOneNamed(tee);
                    throw;
                }

                tee.Drain();
            }

            return new StagedLayer(layer, blobTemp, compressed.Actual, staging, fileTable);
        }
    }

    /// <summary>
    /// A zstd:chunked layer fetched as only the files the store lacks (see Chunked/PartialLayerPull.cs),
    /// unpacked from the rebuilt tar stream, which must hash to the diff_id. Null, after saying why, when
    /// the layer cannot be pulled so or the rebuild fails anywhere: the caller then fetches it whole, and
    /// a blob that is really broken is reported by that whole fetch.
    /// </summary>
    private async Task<StagedLayer?> StagePartiallyAsync(IRangedBlobSource source, LayerRecord layer, Descriptor descriptor, string description, TempArea scratch, CancellationToken cancellationToken)
    {
        using var pull = await PartialLayerPull.PrepareAsync(source, descriptor, _store, scratch, _progress.Message, cancellationToken).ConfigureAwait(false);
        if (pull is null)
        {
            return null;
        }

        try
        {
            try
            {
                return UnpackRebuilt(pull, layer, description, scratch, cancellationToken);
            }
            catch (DigestMismatchException) when (pull.UsedPredictions)
            {
                // The tar bytes between files taken from the stored earlier version differ somewhere
                // (an entry's metadata the table of contents does not show): fetch those too, once.
                await pull.FetchPredictedAsync(cancellationToken).ConfigureAwait(false);
                return UnpackRebuilt(pull, layer, description, scratch, cancellationToken);
            }
        }
        catch (Exception e) when (e is ChunkedFormatException or DigestMismatchException or LayerException or IOException && !cancellationToken.IsCancellationRequested)
        {
            _progress.Message($"layer {layer.Blob}: the partial pull failed ({RuntimeText.Describe(e)}); fetching it whole");
            return null;
        }
    }

    private StagedLayer UnpackRebuilt(PartialLayerPull pull, LayerRecord layer, string description, TempArea scratch, CancellationToken cancellationToken)
    {
        var staging = scratch.NewFilePath();
        Directory.CreateDirectory(staging);
        using var rebuilt = pull.OpenStream();
        using var uncompressed = new DigestingStream(rebuilt, $"layer {description} (rebuilt from its table of contents, diff_id)", layer.DiffId, leaveOpen: true, hashInBackground: true);
        var fileTable = scratch.NewFilePath();
        using (var table = new LayerFileTable.Writer(fileTable))
        {
            new LayerUnpacker(UnpackMode.OverlayLayer, UnpackLimits.Default, _progress.Message) { FileSink = table }.Unpack(uncompressed, staging, description, cancellationToken, localContent: rebuilt);
        }

        uncompressed.DrainAndVerify();
        _progress.LayerFetchedPartially(layer.Blob, pull.Report);
        return new StagedLayer(layer, null, layer.Blob, staging, fileTable);
    }

    /// <summary>
    /// A blob whose bytes differ from the ones its digest names decompresses into garbage, and what the
    /// decompressor or the tar reader says about that garbage (a bad size field, an entry named "") hides
    /// the real cause. Reading the rest of the blob settles it: a digest mismatch is reported instead;
    /// when the blob is the one named (the image itself is malformed) or cannot be read to its end, the
    /// unpacking error stands.
    /// </summary>
    private static void ThrowIfBlobIsNotTheOneNamed(TeeReadStream blob)
    {
        try
        {
            blob.Drain();
        }
        catch (DigestMismatchException)
        {
            throw;
        }
        catch (Exception e) when (e is IOException or HttpRequestException or KubeflyException or OperationCanceledException)
        {
            // The unpacking error is the one to report.
        }
    }

    /// <summary>A verified layer waiting for the flush that precedes its commit.</summary>
    private sealed class StagedLayer(LayerRecord layer, string? blobTemp, Digest verifiedBlob, string? staging, string? fileTable)
    {
        public LayerRecord Layer { get; } = layer;

        public void Commit(ImageStore store)
        {
            if (blobTemp is not null)
            {
                store.CommitBlob(blobTemp, Layer.Blob, verifiedBlob);
            }

            if (staging is not null)
            {
                // The table first: a layer must never stand without one because of a crash in between
                // (a table without its layer is removed by the next gc).
                if (fileTable is not null)
                {
                    store.CommitFileTable(fileTable, Layer.DiffId);
                }

                store.CommitLayer(staging, Layer.DiffId);
            }

            store.RecordVerifiedDiffId(Layer.Blob, Layer.DiffId);
        }
    }
}
