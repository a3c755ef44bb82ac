using System.Text.Json;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Integration.Images;

/// <summary>
/// A config's diff_id is checked against what the layer's own blob decompresses to, even when a layer
/// with that diff_id is already in the store (hardening issue, item 3).
/// </summary>
[Trait("Category", "Integration")]
public sealed class DiffIdVerificationTests : IDisposable
{
    private readonly TempDirectory _state = new("kubefly-state");
    private readonly TempDirectory _layouts = new("kubefly-layout");

    public void Dispose()
    {
        _state.Dispose();
        _layouts.Dispose();
    }

    [Fact]
    public void AnImageClaimingAStoredLayersDiffIdForRandomBytesIsRefused()
    {
        var layout = new OciLayoutBuilder(_layouts.Path);
        var aLayer = new TarBuilder().File("a-file", "from image A\n").Build();
        layout.AddImage([aLayer], LayerCompression.Gzip, Platform.Host, tag: "a");
        layout.AddImage([Random.Shared.GetItems<byte>(Enumerable.Range(0, 256).Select(i => (byte)i).ToArray(), 5000)], LayerCompression.None, Platform.Host, tag: "b", diffIds: [Digest.Compute(aLayer)]);

        Assert.Equal(0, Kubefly("fetch", "--quiet", $"oci:{_layouts.Path}:a").ExitCode);
        var fetchB = Kubefly("fetch", "--quiet", $"oci:{_layouts.Path}:b");

        Assert.Equal(254, fetchB.ExitCode);
        Assert.Contains("diff_id", fetchB.StandardError);
        Assert.Contains("digest mismatch", fetchB.StandardError);
        Assert.Single(ImageList());
        var export = Kubefly("image", "export", $"oci:{_layouts.Path}:b", _state.Combine("b.tar"));
        Assert.Equal(254, export.ExitCode);
        Assert.False(File.Exists(_state.Combine("b.tar")));
    }

    [Fact]
    public void AStoredBlobPairedWithAnotherStoredLayersDiffIdIsRefused()
    {
        // Both the blob and a layer with the claimed diff_id are in the store, from two honest images.
        var layout = new OciLayoutBuilder(_layouts.Path);
        var first = new TarBuilder().File("first", "1\n").Build();
        var second = new TarBuilder().File("second", "2\n").Build();
        layout.AddImage([first], LayerCompression.None, Platform.Host, tag: "first");
        layout.AddImage([second], LayerCompression.None, Platform.Host, tag: "second");
        layout.AddImage([first], LayerCompression.None, Platform.Host, tag: "liar", diffIds: [Digest.Compute(second)]);

        Assert.Equal(0, Kubefly("fetch", "--quiet", $"oci:{_layouts.Path}:first").ExitCode);
        Assert.Equal(0, Kubefly("fetch", "--quiet", $"oci:{_layouts.Path}:second").ExitCode);
        var liar = Kubefly("fetch", "--quiet", $"oci:{_layouts.Path}:liar");

        Assert.Equal(254, liar.ExitCode);
        Assert.Contains("diff_id", liar.StandardError);
        Assert.Equal(2, ImageList().Count);
    }

    [Fact]
    public void AValidLayerWithAnotherCompressionSharesTheStoredLayerAndIsVerifiedOnce()
    {
        var layout = new OciLayoutBuilder(_layouts.Path);
        var layer = new TarBuilder().File("shared", "same content\n").Build();
        layout.AddImage([layer], LayerCompression.Gzip, Platform.Host, tag: "gzip");
        layout.AddImage([layer], LayerCompression.Zstd, Platform.Host, tag: "zstd");
        var lying = new TarBuilder().File("shared", "other content\n").Build();
        layout.AddImage([lying], LayerCompression.Zstd, Platform.Host, tag: "lying", diffIds: [Digest.Compute(layer)]);

        Assert.Equal(0, Kubefly("fetch", "--quiet", $"oci:{_layouts.Path}:gzip").ExitCode);
        var zstd = Kubefly("fetch", "--quiet", $"oci:{_layouts.Path}:zstd");
        Assert.True(zstd.ExitCode == 0, zstd.ToString());
        var lyingFetch = Kubefly("fetch", "--quiet", $"oci:{_layouts.Path}:lying");
        Assert.Equal(254, lyingFetch.ExitCode);

        Assert.Single(Directory.GetDirectories(Path.Combine(_state.Path, "images", "layers", "sha256")));
        var markers = Directory.GetFiles(Path.Combine(_state.Path, "images", "verified")).Select(Path.GetFileName).ToList();
        Assert.Equal(2, markers.Count);
        Assert.All(markers, m => Assert.EndsWith("-" + Digest.Compute(layer).Hex, m));

        // Markers go with their blobs.
        Assert.Equal(0, Kubefly("image", "gc", "--grace-period=0s").ExitCode);
        Assert.Empty(Directory.GetFiles(Path.Combine(_state.Path, "images", "verified")));
    }

    private ProcessResult Kubefly(params string[] arguments) => KubeflyProcess.Run(["--dir", _state.Path, .. arguments]);

    private List<JsonElement> ImageList()
    {
        var result = Kubefly("image", "list", "--format=json");
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.StandardOutput).RootElement.EnumerateArray().ToList();
    }
}
