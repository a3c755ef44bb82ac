using System.IO.Compression;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;
using Kubefly.Tests.Unit.Unpacking;

namespace Kubefly.Tests.Integration.Images;

/// <summary>
/// Every case of the hostile-layer corpus (Unit/Unpacking/HostileLayerCorpusTests), fetched by the real
/// binary into a real store, under the hardening issue's bar: the fetch ends (0 or 254, never a crash),
/// a failure is told in kubefly's words, the sentinel tree outside the store is byte-for-byte unchanged,
/// peak RSS stays under 100 MiB (`/usr/bin/time`), no scratch space or half image is left, and the next
/// ordinary fetch into the same store works.
/// </summary>
[Trait("Category", "Integration")]
public sealed class HostileLayersThroughTheBinaryTests : IDisposable
{
    private const long MemoryBoundKilobytes = 100 * 1024;

    private readonly TempDirectory _work = new("kubefly-hostile-bin");

    public void Dispose() => _work.Dispose();

    public static TheoryData<string> CaseNames() => [.. HostileLayerCorpusTests.ForTheBinary().Keys];

    [Fact]
    public void The_corpus_through_the_binary_has_its_cases() =>
        Assert.True(HostileLayerCorpusTests.ForTheBinary().Count >= 80, $"only {HostileLayerCorpusTests.ForTheBinary().Count} cases");

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void A_hostile_layer_fetched_by_the_binary_changes_nothing_outside_the_store(string name)
    {
        var hostile = HostileLayerCorpusTests.ForTheBinary()[name];
        using var sandbox = new UnpackSandbox();
        var before = sandbox.SnapshotOutside();
        var layer = hostile.Layer(sandbox);
        var layout = _work.Combine("layout");
        var builder = new OciLayoutBuilder(layout);
        var mediaType = hostile.Compression switch
        {
            LayerCompression.Gzip => MediaTypes.OciLayerGzip,
            LayerCompression.Zstd => MediaTypes.OciLayerZstd,
            _ => MediaTypes.OciLayer,
        };
        var blob = builder.WriteBlob(layer, mediaType);
        builder.AddImageWithLayerBlobs([blob], [DiffIdOf(layer, hostile.Compression)], Platform.Host, tag: "hostile");
        var state = _work.Combine("state");
        var rss = _work.Combine("rss");

        var fetch = ProgramRunner.Run("/usr/bin/time", ["-f", "%M", "-o", rss, KubeflyProcess.BinaryPath, $"--dir={state}", "fetch", "--quiet", $"oci:{layout}:hostile"], timeout: TimeSpan.FromMinutes(2));

        Assert.True(fetch.ExitCode is 0 or 254, $"{name}: {fetch}");
        if (fetch.ExitCode != 0)
        {
            Assert.False(string.IsNullOrWhiteSpace(fetch.StandardError), fetch.ToString());
            Assert.DoesNotMatch(UserFacingText.NotKubeflysWords(), fetch.StandardError);
            Assert.DoesNotContain(ImageList(state), line => line.Contains(layout, StringComparison.Ordinal));
        }

        var peak = UserFacingText.PeakKilobytes(rss);
        Assert.True(peak < MemoryBoundKilobytes, $"peak RSS {peak} KiB");
        var after = sandbox.SnapshotOutside();
        Assert.True(before.Count == after.Count && !before.Except(after).Any(), $"the sentinel tree changed:\n{TreeSnapshot.Diff(before, after)}");
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(state, "images", "tmp")));

        var next = KubeflyProcess.Run([$"--dir={state}", "fetch", "--quiet", TestImages.Reference(TestImages.Busybox)]);
        Assert.True(next.ExitCode == 0, $"the next ordinary fetch failed: {next}");
    }

    private static IReadOnlyList<string> ImageList(string state) =>
        KubeflyProcess.Run([$"--dir={state}", "image", "list", "--no-legend", "--full"]).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The digest of the uncompressed tar, as a config would claim it; a zero digest when it does not decompress.</summary>
    private static Digest DiffIdOf(byte[] layer, LayerCompression? compression)
    {
        try
        {
            using var input = new MemoryStream(layer);
            using Stream decompressed = compression switch
            {
                LayerCompression.Gzip => new GZipStream(input, CompressionMode.Decompress),
                LayerCompression.Zstd => new ZstdSharp.DecompressionStream(input),
                _ => input,
            };
            return Digest.Compute(decompressed);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ZstdSharp.ZstdException)
        {
            return Digest.Parse("sha256:" + new string('0', 64));
        }
    }
}
