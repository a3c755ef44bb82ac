using Kubefly.Images.Sources;
using Kubefly.Images.Store;
using Kubefly.Images.Unpacking;
using Kubefly.Oci;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Images.Chunked;

/// <summary>What a partial pull of one layer moved and saved.</summary>
/// <param name="WireBytes">Response bytes received: the table of contents and the ranges, multipart framing included.</param>
/// <param name="TocBytes">The compressed table of contents.</param>
/// <param name="RangeBytes">The compressed bytes of the ranges asked for.</param>
/// <param name="ReusedBytes">Uncompressed file content read from the store instead.</param>
public sealed record PartialPullReport(long LayerSize, long WireBytes, long TocBytes, long RangeBytes, int Requests, long ReusedBytes, int ReusedFiles, int FetchedFiles, int PredictedGaps);

/// <summary>
/// The first half of a partial pull: reads the layer's table of contents (fetched by range, checked
/// against the manifest's checksum annotation, parsed within bounds), finds the files the store already
/// has and the stored layer most like this one, and fetches everything else in batches of ranges into a
/// sparse scratch file. The second half is <see cref="OpenStream"/>, whose output the puller unpacks and
/// hashes against the diff_id. Every reason not to go on is reported and answered with null: the layer
/// is then fetched whole.
/// </summary>
public sealed class PartialLayerPull : IDisposable
{
    /// <summary>Ranges per request: a Range header of a few kilobytes, well within what servers accept.</summary>
    public const int MaxRangesPerRequest = 64;

    private readonly IRangedBlobSource _source;
    private readonly Descriptor _layer;
    private readonly SafeFileHandle _fetched;
    private readonly ImageStore _store;
    private readonly long _tocBytes;
    private PartialLayerPlan _plan;
    private long _wireBytes;
    private int _requests;

    private PartialLayerPull(IRangedBlobSource source, Descriptor layer, PartialLayerPlan plan, SafeFileHandle fetched, ImageStore store, long tocBytes, long tocWireBytes)
    {
        _source = source;
        _layer = layer;
        _plan = plan;
        _fetched = fetched;
        _store = store;
        _tocBytes = tocBytes;
        _wireBytes = tocWireBytes;
        _requests = 1;
    }

    public PartialPullReport Report => new(
        _layer.Size,
        _wireBytes,
        _tocBytes,
        _plan.FetchedBytes,
        _requests,
        _plan.ReusedBytes,
        _plan.ReusedFiles,
        _plan.Segments.Count(s => s.Kind == SegmentKind.FetchedFile),
        _plan.PredictedGaps);

    /// <summary>Whether some tar bytes between files were rebuilt from a stored layer rather than fetched.</summary>
    public bool UsedPredictions => _plan.PredictedGaps > 0;

    /// <param name="say">Where the reasons for a whole fetch go.</param>
    public static async Task<PartialLayerPull?> PrepareAsync(IRangedBlobSource source, Descriptor layer, ImageStore store, TempArea scratch, Action<string> say, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(scratch);
        ArgumentNullException.ThrowIfNull(say);
        var location = ChunkedTocLocation.From(layer, out var problem);
        if (location is null)
        {
            if (problem is not null)
            {
                say($"layer {layer.Digest}: not pulled partially: {problem}");
            }

            return null;
        }

        try
        {
            return await PrepareAsync(source, layer, location, store, scratch, say, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ChunkedFormatException or KubeflyException or IOException && !cancellationToken.IsCancellationRequested)
        {
            say($"layer {layer.Digest}: not pulled partially: {RuntimeText.Describe(e)}");
            return null;
        }
    }

    /// <summary>The layer's tar stream, rebuilt; the caller hashes it against the diff_id.</summary>
    public ReassembledLayerStream OpenStream() => new(_plan, _fetched, _store.LayerPath);

    /// <summary>
    /// After a rebuild that used predictions missed the diff_id: fetches the predicted stretches too, so
    /// the next <see cref="OpenStream"/> rebuilds from fetched bytes and stored files only.
    /// </summary>
    public async Task FetchPredictedAsync(CancellationToken cancellationToken)
    {
        await FetchAsync(_plan.PredictedRanges, cancellationToken).ConfigureAwait(false);
        _plan = _plan.WithoutPredictions();
    }

    public void Dispose() => _fetched.Dispose();

    private static async Task<PartialLayerPull?> PrepareAsync(IRangedBlobSource source, Descriptor layer, ChunkedTocLocation location, ImageStore store, TempArea scratch, Action<string> say, CancellationToken cancellationToken)
    {
        if (location.UncompressedLength > ChunkedToc.MaxUncompressedBytes || location.Length > ChunkedToc.MaxUncompressedBytes)
        {
            throw new ChunkedFormatException($"its table of contents is {location.Length} bytes, {location.UncompressedLength} uncompressed (limit {ChunkedToc.MaxUncompressedBytes})");
        }

        var compressedToc = new byte[location.Length];
        var tocRead = await source.ReadRangesAsync(
            layer,
            [new ByteRange(location.Offset, location.Offset + location.Length)],
            (offset, bytes, _) =>
            {
                bytes.CopyTo(compressedToc.AsMemory((int)(offset - location.Offset)));
                return ValueTask.CompletedTask;
            },
            cancellationToken).ConfigureAwait(false);
        if (!tocRead.Served)
        {
            throw new ChunkedFormatException(tocRead.Refusal!);
        }

        if (!Digest.Compute(compressedToc).FixedTimeEquals(location.Checksum))
        {
            throw new ChunkedFormatException($"its table of contents does not match the manifest's checksum {location.Checksum}");
        }

        var framesEnd = location.Offset - ChunkedTocLocation.SkippableFrameHeaderLength;
        var toc = ChunkedToc.Parse(Decompress(compressedToc, location.UncompressedLength), framesEnd);
        var (local, earlier) = LocalFileIndex.Find(store, toc.Files.Select(f => f.Digest), say);
        var plan = PartialLayerPlan.Create(toc, framesEnd, local, earlier);
        if (plan.ReusedFiles == 0)
        {
            throw new ChunkedFormatException("the store holds none of its files");
        }

        var fetched = File.OpenHandle(scratch.NewFilePath(), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        var pull = new PartialLayerPull(source, layer, plan, fetched, store, location.Length, tocRead.WireBytes);
        try
        {
            await pull.FetchAsync(plan.Ranges, cancellationToken).ConfigureAwait(false);
            return pull;
        }
        catch
        {
            pull.Dispose();
            throw;
        }
    }

    private async Task FetchAsync(IReadOnlyList<ByteRange> ranges, CancellationToken cancellationToken)
    {
        for (var first = 0; first < ranges.Count; first += MaxRangesPerRequest)
        {
            var batch = ranges.Skip(first).Take(MaxRangesPerRequest).ToList();
            var read = await _source.ReadRangesAsync(
                _layer,
                batch,
                (offset, bytes, token) => RandomAccess.WriteAsync(_fetched, bytes, offset, token),
                cancellationToken).ConfigureAwait(false);
            if (!read.Served)
            {
                throw new ChunkedFormatException(read.Refusal!);
            }

            _wireBytes += read.WireBytes;
            _requests++;
        }
    }

    private static byte[] Decompress(byte[] compressed, long expectedLength)
    {
        try
        {
            using var decompressor = new ZstdSharp.Decompressor();
            var output = new byte[expectedLength];
            if (!decompressor.TryUnwrap(compressed, output, out var written) || written != expectedLength)
            {
                throw new ChunkedFormatException($"its table of contents does not decompress to the {expectedLength} bytes its annotation gives");
            }

            return output;
        }
        catch (ZstdSharp.ZstdException e)
        {
            throw new ChunkedFormatException($"its table of contents does not decompress ({RuntimeText.Describe(e)})");
        }
    }
}

/// <summary>Finds files by content digest in the file tables of every stored layer.</summary>
public static class LocalFileIndex
{
    /// <returns>
    /// The files found, by digest, and the non-empty files (in tar order, with their prefixes) of the
    /// layer holding the most of them: most likely the stored earlier version of the layer being pulled.
    /// </returns>
    public static (Dictionary<Digest, LocalFile> Found, List<LayerFile>? Earlier) Find(ImageStore store, IEnumerable<Digest> digests, Action<string> warn)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(warn);
        var wanted = digests.ToHashSet();
        var found = new Dictionary<Digest, LocalFile>();
        Digest? earliest = null;
        var earlierMatches = 0;
        foreach (var layer in store.ListLayers())
        {
            var files = LayerFileTable.ReadMatching(store.FileTablePath(layer), wanted, out var problem);
            if (problem is not null)
            {
                warn($"ignoring the file table of layer {layer}: {problem}");
            }

            foreach (var file in files ?? [])
            {
                found.TryAdd(file.Digest, new LocalFile(layer, file.Path, file.Size));
            }

            if (files is not null && files.Count > earlierMatches)
            {
                earlierMatches = files.Count;
                earliest = layer;
            }
        }

        // Only the layer most like this one is read with its prefixes.
        var earlier = earliest is { } chosen ? LayerFileTable.Read(store.FileTablePath(chosen), out _)?.Where(f => f.Size > 0).ToList() : null;
        return (found, earlier);
    }
}
