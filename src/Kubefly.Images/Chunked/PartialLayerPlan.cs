using Kubefly.Images.Sources;
using Kubefly.Images.Unpacking;
using Kubefly.Oci;

namespace Kubefly.Images.Chunked;

/// <summary>A file the store already holds: in layer <paramref name="LayerDiffId"/> at <paramref name="Path"/>.</summary>
public sealed record LocalFile(Digest LayerDiffId, string Path, long Size);

public enum SegmentKind
{
    /// <summary>Frames between file contents (tar headers, padding, the end-of-archive blocks): fetched.</summary>
    Frames,

    /// <summary>A file's content frames, fetched and checked against the file's digest in the table of contents.</summary>
    FetchedFile,

    /// <summary>A file's content, read from the store instead.</summary>
    LocalFile,

    /// <summary>
    /// Frames between file contents whose tar bytes a stored layer already had between the same files
    /// with the same metadata (the stored earlier version of this layer): rebuilt from there, not fetched.
    /// </summary>
    PredictedFrames,
}

/// <summary>One stretch of the blob [Start, End) in order: how its uncompressed bytes are produced.</summary>
public readonly record struct PlanSegment(SegmentKind Kind, long Start, long End, ChunkedFile? File, LocalFile? Local, byte[]? Predicted = null);

/// <summary>
/// How to rebuild one zstd:chunked layer's tar stream: the blob is cut at the file spans of its table of
/// contents; the content of files the store has is read locally, everything else (file content and the
/// frames between files, which hold the exact tar headers) is fetched. A chunked blob's frames decompress
/// to its whole tar, so what is rebuilt hashes to the diff_id exactly when it is right.
/// </summary>
public sealed class PartialLayerPlan
{
    /// <summary>
    /// A local file whose compressed span is smaller than this, between two stretches that are fetched
    /// anyway, is fetched with them: a multipart answer spends about this much framing on every range.
    /// </summary>
    public const long MinimumSkippedSpan = 192;

    private PartialLayerPlan(IReadOnlyList<PlanSegment> segments, IReadOnlyList<ByteRange> ranges)
    {
        Segments = segments;
        Ranges = ranges;
    }

    public IReadOnlyList<PlanSegment> Segments { get; }

    /// <summary>What to fetch: sorted, disjoint, and merged where only a small local file lay between.</summary>
    public IReadOnlyList<ByteRange> Ranges { get; }

    public long FetchedBytes => Ranges.Sum(r => r.Length);

    public int ReusedFiles => Segments.Count(s => s.Kind == SegmentKind.LocalFile);

    public int PredictedGaps => Segments.Count(s => s.Kind == SegmentKind.PredictedFrames);

    /// <summary>Uncompressed bytes of file content read from the store.</summary>
    public long ReusedBytes => Segments.Where(s => s.Kind == SegmentKind.LocalFile).Sum(s => s.Local!.Size);

    /// <param name="framesEnd">Where the blob's frames end (the table's skippable frame begins).</param>
    /// <param name="local">Files the store holds, by content digest.</param>
    /// <param name="earlier">
    /// The non-empty files of the stored layer most like this one, in tar order with their prefixes: the
    /// frames before a file are rebuilt from there when that layer had the same file, with the same entry
    /// signature, right after the same file of the same size (whose padding they hold). Null: fetch them all.
    /// </param>
    public static PartialLayerPlan Create(ChunkedToc toc, long framesEnd, IReadOnlyDictionary<Digest, LocalFile> local, IReadOnlyList<LayerFile>? earlier)
    {
        ArgumentNullException.ThrowIfNull(toc);
        ArgumentNullException.ThrowIfNull(local);
        var earlierIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; earlier is not null && i < earlier.Count; i++)
        {
            earlierIndex.TryAdd(earlier[i].Path, i);
        }

        var segments = new List<PlanSegment>();
        long position = 0;
        for (var i = 0; i < toc.Files.Count; i++)
        {
            var file = toc.Files[i];
            if (file.Offset > position)
            {
                var predicted = earlier is null ? null : Predict(toc.Files, i, earlier, earlierIndex);
                segments.Add(predicted is null
                    ? new PlanSegment(SegmentKind.Frames, position, file.Offset, null, null)
                    : new PlanSegment(SegmentKind.PredictedFrames, position, file.Offset, null, null, predicted));
            }

            var reusable = local.TryGetValue(file.Digest, out var found) && found.Size == file.Size;
            segments.Add(reusable
                ? new PlanSegment(SegmentKind.LocalFile, file.Offset, file.EndOffset, file, found)
                : new PlanSegment(SegmentKind.FetchedFile, file.Offset, file.EndOffset, file, null));
            position = file.EndOffset;
        }

        if (framesEnd > position)
        {
            segments.Add(new PlanSegment(SegmentKind.Frames, position, framesEnd, null, null));
        }

        // A small local file between two fetched stretches costs more as a gap (one more part, with its
        // framing) than as fetched bytes.
        for (var i = 1; i < segments.Count - 1; i++)
        {
            if (segments[i] is { Kind: SegmentKind.LocalFile } small && small.End - small.Start < MinimumSkippedSpan
                && IsFetched(segments[i - 1]) && IsFetched(segments[i + 1]))
            {
                segments[i] = small with { Kind = SegmentKind.FetchedFile, Local = null };
            }
        }

        return new PartialLayerPlan(segments, RangesOf(segments, IsFetched));
    }

    private static bool IsFetched(PlanSegment segment) => segment.Kind is SegmentKind.Frames or SegmentKind.FetchedFile;

    /// <summary>This plan with every predicted stretch fetched instead (a rebuild from predictions missed the diff_id).</summary>
    public PartialLayerPlan WithoutPredictions()
    {
        var segments = Segments.Select(s => s.Kind == SegmentKind.PredictedFrames ? s with { Kind = SegmentKind.Frames, Predicted = null } : s).ToList();
        return new(segments, RangesOf(segments, IsFetched));
    }

    /// <summary>What <see cref="WithoutPredictions"/> needs fetched on top of <see cref="Ranges"/>.</summary>
    public IReadOnlyList<ByteRange> PredictedRanges => RangesOf(Segments, s => s.Kind == SegmentKind.PredictedFrames);

    private static byte[]? Predict(IReadOnlyList<ChunkedFile> files, int i, IReadOnlyList<LayerFile> earlier, Dictionary<string, int> earlierIndex)
    {
        var file = files[i];
        if (!earlierIndex.TryGetValue(file.Path, out var j) || earlier[j].Signature != file.Signature || earlier[j].Prefix is not { } prefix)
        {
            return null;
        }

        var samePredecessor = i == 0
            ? j == 0
            : j > 0 && earlier[j - 1].Path == files[i - 1].Path && earlier[j - 1].Size == files[i - 1].Size;
        return samePredecessor ? prefix : null;
    }

    private static List<ByteRange> RangesOf(IEnumerable<PlanSegment> segments, Func<PlanSegment, bool> fetched)
    {
        var ranges = new List<ByteRange>();
        foreach (var segment in segments.Where(fetched))
        {
            if (ranges.Count > 0 && ranges[^1].End == segment.Start)
            {
                ranges[^1] = ranges[^1] with { End = segment.End };
            }
            else
            {
                ranges.Add(new ByteRange(segment.Start, segment.End));
            }
        }

        return ranges;
    }
}
