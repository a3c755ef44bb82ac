using System.Text;
using Kubefly.Images.Chunked;
using Kubefly.Images.Sources;
using Kubefly.Images.Unpacking;
using Kubefly.Oci;

namespace Kubefly.Tests.Unit.Images.Chunked;

/// <summary>What a partial pull fetches, reads locally and rebuilds from the stored earlier version.</summary>
public sealed class PartialLayerPlanTests
{
    private static readonly Digest LayerId = Digest.Compute("layer"u8);

    [Fact]
    public void Stored_files_are_read_locally_and_everything_else_is_fetched_in_merged_ranges()
    {
        var toc = Toc(("a", 1000, 1400, "A"), ("b", 1500, 2500, "B"), ("c", 2600, 3000, "C"));
        var plan = PartialLayerPlan.Create(toc, framesEnd: 3100, Local("A", "C"), earlier: null);

        Assert.Equal(
            [SegmentKind.Frames, SegmentKind.LocalFile, SegmentKind.Frames, SegmentKind.FetchedFile, SegmentKind.Frames, SegmentKind.LocalFile, SegmentKind.Frames],
            plan.Segments.Select(s => s.Kind));
        Assert.Equal([new ByteRange(0, 1000), new ByteRange(1400, 2600), new ByteRange(3000, 3100)], plan.Ranges);
        Assert.Equal(2, plan.ReusedFiles);
    }

    [Fact]
    public void A_small_stored_file_between_fetched_stretches_is_fetched_with_them()
    {
        var toc = Toc(("a", 1000, 1100, "A"), ("b", 1200, 1300, "B"));
        var plan = PartialLayerPlan.Create(toc, framesEnd: 1400, Local("A", "B"), earlier: null);

        Assert.Equal([new ByteRange(0, 1400)], plan.Ranges);
        Assert.Equal(0, plan.ReusedFiles);
    }

    [Fact]
    public void A_file_whose_stored_size_differs_is_fetched()
    {
        var toc = Toc(("a", 1000, 1400, "A"));
        var local = new Dictionary<Digest, LocalFile> { [Content("A")] = new LocalFile(LayerId, "a", 999) };

        Assert.Equal(SegmentKind.FetchedFile, PartialLayerPlan.Create(toc, 1500, local, null).Segments[1].Kind);
    }

    [Fact]
    public void Frames_before_a_file_are_rebuilt_only_when_the_earlier_layer_had_the_same_file_after_the_same_file()
    {
        var toc = Toc(("a", 1000, 1400, "A"), ("b", 1500, 2500, "B2"), ("c", 2600, 3000, "C"));
        var earlier = new List<LayerFile>
        {
            Stored("a", toc.Files[0].Signature, [1]),
            Stored("b", toc.Files[1].Signature, [2]),
            Stored("c", toc.Files[2].Signature, [3]),
        };

        var plan = PartialLayerPlan.Create(toc, 3100, Local("A", "C"), earlier);

        Assert.Equal(
            [SegmentKind.PredictedFrames, SegmentKind.LocalFile, SegmentKind.PredictedFrames, SegmentKind.FetchedFile, SegmentKind.PredictedFrames, SegmentKind.LocalFile, SegmentKind.Frames],
            plan.Segments.Select(s => s.Kind));
        Assert.Equal([new ByteRange(1500, 2500), new ByteRange(3000, 3100)], plan.Ranges);
        Assert.Equal([new ByteRange(0, 1000), new ByteRange(1400, 1500), new ByteRange(2500, 2600)], plan.PredictedRanges);

        var fetchedInstead = plan.WithoutPredictions();
        Assert.Equal(0, fetchedInstead.PredictedGaps);
        Assert.Equal([new ByteRange(0, 1000), new ByteRange(1400, 2600), new ByteRange(3000, 3100)], fetchedInstead.Ranges);
    }

    [Fact]
    public void No_prediction_when_the_signature_or_the_predecessor_differs()
    {
        var toc = Toc(("a", 1000, 1400, "A"), ("b", 1500, 2500, "B"));
        var otherSignature = new List<LayerFile> { Stored("a", toc.Files[0].Signature + 1, [1]), Stored("b", toc.Files[1].Signature, [2]) };
        var otherPredecessor = new List<LayerFile> { Stored("x", 0, [9]), Stored("b", toc.Files[1].Signature, [2]) };
        var predecessorResized = new List<LayerFile> { Stored("a", toc.Files[0].Signature, [1], size: 99), Stored("b", toc.Files[1].Signature, [2]) };

        Assert.Equal(0, PartialLayerPlan.Create(toc, 2600, Local("A", "B"), otherSignature).Segments.Take(1).Count(s => s.Kind == SegmentKind.PredictedFrames));
        Assert.Equal(SegmentKind.Frames, PartialLayerPlan.Create(toc, 2600, Local("A", "B"), otherPredecessor).Segments[2].Kind);
        Assert.Equal(SegmentKind.Frames, PartialLayerPlan.Create(toc, 2600, Local("A", "B"), predecessorResized).Segments[2].Kind);
    }

    private static Digest Content(string name) => Digest.Compute(Encoding.UTF8.GetBytes(name));

    private static LayerFile Stored(string path, ulong signature, byte[] prefix, long size = 10) =>
        new(path, size, Content(path.ToUpperInvariant())) { Signature = signature, Prefix = prefix };

    private static Dictionary<Digest, LocalFile> Local(params string[] contents) =>
        contents.ToDictionary(Content, c => new LocalFile(LayerId, c.ToLowerInvariant(), 10));

    private static ChunkedToc Toc(params (string Name, long Offset, long End, string Content)[] files)
    {
        var entries = files.Select(f =>
            $"{{\"type\":\"reg\",\"name\":\"{f.Name}\",\"size\":10,\"offset\":{f.Offset},\"endOffset\":{f.End},\"digest\":\"{Content(f.Content)}\",\"mode\":420}}");
        return ChunkedToc.Parse(Encoding.UTF8.GetBytes("{\"version\":1,\"entries\":[" + string.Join(',', entries) + "]}"), framesEnd: 1_000_000);
    }
}
