using System.Text.Json;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Integration.Images;

/// <summary>fetch and the image commands through the real binary, with images from OCI layouts and archives.</summary>
[Trait("Category", "Integration")]
public sealed class FetchFromLayoutTests : IDisposable
{
    private readonly TempDirectory _state = new("kubefly-state");

    public void Dispose() => _state.Dispose();

    [Fact]
    public void FetchPrintsTheManifestDigestAndStoresUnpackedLayers()
    {
        var result = Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.Busybox));
        Assert.True(result.ExitCode == 0, result.ToString());
        var digest = Digest.Parse(result.StandardOutput.Trim());
        Assert.Equal(LayoutManifestDigest(TestImages.Busybox), digest);

        var layers = Directory.GetDirectories(Path.Combine(_state.Path, "images", "layers", "sha256"));
        var layer = Assert.Single(layers);
        Assert.True(File.Exists(Path.Combine(layer, "bin", "busybox")));
        Assert.Equal("busybox", new FileInfo(Path.Combine(layer, "bin", "sh")).LinkTarget);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_state.Path, "images", "tmp")));
    }

    [Theory]
    [InlineData(TestImages.Zstd)]
    [InlineData(TestImages.Uncompressed)]
    public void FetchesZstdAndUncompressedLayers(string tag)
    {
        var result = Kubefly("fetch", "--quiet", TestImages.Reference(tag));
        Assert.True(result.ExitCode == 0, result.ToString());
        var layer = Assert.Single(Directory.GetDirectories(Path.Combine(_state.Path, "images", "layers", "sha256")));
        Assert.Equal(File.ReadAllBytes("/bin/busybox"), File.ReadAllBytes(Path.Combine(layer, "bin", "busybox")));
    }

    [Fact]
    public void ImagesSharingABaseLayerShareItsFilesOnDisk()
    {
        Assert.Equal(0, Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.Busybox)).ExitCode);
        Assert.Equal(0, Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.MultiLayer)).ExitCode);
        Assert.Equal(3, Directory.GetDirectories(Path.Combine(_state.Path, "images", "layers", "sha256")).Length);
    }

    [Fact]
    public void MultiPlatformIndexResolvesToTheHostOrTheRequestedPlatform()
    {
        var host = Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.MultiPlatform));
        Assert.True(host.ExitCode == 0, host.ToString());
        var record = ImageList().Single();
        Assert.Equal(host.StandardOutput.Trim(), record.GetProperty("id").GetString());

        var arm = Kubefly("fetch", "--quiet", "--platform", "linux/arm/v7", TestImages.Reference(TestImages.MultiPlatform));
        Assert.True(arm.ExitCode == 0, arm.ToString());
        Assert.NotEqual(host.StandardOutput, arm.StandardOutput);
        var armLayer = Directory.GetDirectories(Path.Combine(_state.Path, "images", "layers", "sha256"))
            .Select(d => Path.Combine(d, "platform")).Single(File.Exists);
        Assert.Equal("linux/arm/v7", File.ReadAllText(armLayer));

        var v5 = Kubefly("fetch", "--quiet", "--platform", "linux/arm/v5", TestImages.Reference(TestImages.MultiPlatform));
        Assert.Equal(254, v5.ExitCode);
        Assert.Contains("no image for platform linux/arm/v5", v5.StandardError);
    }

    [Fact]
    public void OverlayLayersCarryWhiteoutsAndExtractFlattensThem()
    {
        Assert.Equal(0, Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.MultiLayer)).ExitCode);
        var output = _state.Combine("extracted");
        var extract = Kubefly("image", "extract", TestImages.Reference(TestImages.MultiLayer), output);
        Assert.True(extract.ExitCode == 0, extract.ToString());
        var data = Path.Combine(output, "rootfs", "data");
        Assert.True(File.Exists(Path.Combine(data, "keep.txt")));
        Assert.False(File.Exists(Path.Combine(data, "remove-me.txt")));
        Assert.False(File.Exists(Path.Combine(data, "opaque", "old.txt")));
        Assert.True(File.Exists(Path.Combine(data, "opaque", "new.txt")));
        Assert.Equal("keep.txt", new FileInfo(Path.Combine(data, "link-relative")).LinkTarget);
        Assert.Equal("/data/keep.txt", new FileInfo(Path.Combine(data, "link-absolute")).LinkTarget);
        Assert.Equal(Inode(Path.Combine(data, "hardlink-source")), Inode(Path.Combine(data, "hardlink")));
        Assert.Equal("1234:5678 750", Stat("%u:%g %a", Path.Combine(data, "owned")));
        Assert.Equal("4755", Stat("%a", Path.Combine(data, "setuid")));
        Assert.Equal("character special file 1,3", Stat("%F %t,%T", Path.Combine(data, "null")));
        Assert.Equal("fifo", Stat("%F", Path.Combine(data, "fifo")));
        Assert.Contains("user.kubefly=\"yes\"", ProgramRunner.Shell($"getfattr -d {Path.Combine(data, "xattr")}"));
        Assert.True(File.Exists(Path.Combine(output, "manifest.json")));

        // The top layer, as stored for overlayfs, holds whiteouts in the kernel's format.
        var top = Directory.GetDirectories(Path.Combine(_state.Path, "images", "layers", "sha256"))
            .Single(d => File.Exists(Path.Combine(d, "data", "fifo")) || Directory.Exists(Path.Combine(d, "data", "opaque")) && File.Exists(Path.Combine(d, "data", "opaque", "new.txt")));
        Assert.Equal("character special file 0,0", Stat("%F %t,%T", Path.Combine(top, "data", "remove-me.txt")));
        Assert.Contains("trusted.overlay.opaque=\"y\"", ProgramRunner.Shell($"getfattr -m trusted -d {Path.Combine(top, "data", "opaque")}"));
    }

    [Fact]
    public void ExportedArchiveFetchesBackToTheSameImage()
    {
        var id = Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.MultiLayer)).StandardOutput.Trim();
        var archive = _state.Combine("exported.tar");
        var export = Kubefly("image", "export", id, archive);
        Assert.True(export.ExitCode == 0, export.ToString());
        Assert.Equal(254, Kubefly("image", "export", id, archive).ExitCode);
        Assert.Equal(0, Kubefly("image", "export", "--overwrite", id, archive).ExitCode);

        using var other = new TempDirectory("kubefly-state");
        var again = KubeflyProcess.Run(["--dir", other.Path, "fetch", "--quiet", $"oci-archive:{archive}:{TestImages.MultiLayer}"]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(id, again.StandardOutput.Trim());

        // skopeo, an independent reader, accepts the archive too.
        var inspect = ProgramRunner.Shell($"skopeo inspect --raw oci-archive:{archive}");
        Assert.Equal(Digest.Parse(id), Digest.Compute(System.Text.Encoding.UTF8.GetBytes(inspect)));
    }

    [Fact]
    public void DockerSaveArchivesAreFetched()
    {
        var archive = _state.Combine("saved.tar");
        var layer = TestImages.BusyboxLayer();
        var config = JsonSerializer.SerializeToUtf8Bytes(new ImageConfiguration
        {
            Os = "linux",
            Architecture = Platform.Host.Architecture,
            RootFs = new RootFs { DiffIds = [Digest.Compute(layer)] },
            Config = new ContainerConfig { Cmd = ["/bin/sh"] },
        }, OciJsonContext.Default.ImageConfiguration);
        var tar = new TarBuilder()
            .File("manifest.json", "[{\"Config\":\"cfg.json\",\"RepoTags\":[\"example.com/saved:v1\"],\"Layers\":[\"abc/layer.tar\"]}]")
            .File("cfg.json", config)
            .Dir("abc/")
            .File("abc/layer.tar", layer)
            .Build();
        File.WriteAllBytes(archive, tar);

        var result = Kubefly("fetch", "--quiet", $"docker-archive:{archive}");
        Assert.True(result.ExitCode == 0, result.ToString());
        var named = Kubefly("fetch", "--quiet", $"docker-archive:{archive}:example.com/saved:v1");
        Assert.Equal(result.StandardOutput, named.StandardOutput);
        var missing = Kubefly("fetch", "--quiet", $"docker-archive:{archive}:example.com/other:v1");
        Assert.Equal(254, missing.ExitCode);
        Assert.Contains("no image named example.com/other:v1", missing.StandardError);
    }

    [Fact]
    public void ListRemoveAndGarbageCollect()
    {
        var busybox = Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.Busybox)).StandardOutput.Trim();
        var multi = Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.MultiLayer)).StandardOutput.Trim();

        var table = Kubefly("image", "list");
        Assert.Equal(0, table.ExitCode);
        Assert.StartsWith("ID", table.StandardOutput);
        Assert.Contains(Digest.Parse(busybox).ShortId(), table.StandardOutput);
        Assert.DoesNotContain("ID", Kubefly("image", "list", "--no-legend").StandardOutput);
        Assert.Contains(multi, Kubefly("image", "list", "--full").StandardOutput);
        Assert.Equal(2, ImageList().Count);

        var manifest = Kubefly("image", "cat-manifest", multi);
        Assert.Equal(Digest.Parse(multi), Digest.Compute(System.Text.Encoding.UTF8.GetBytes(manifest.StandardOutput.TrimEnd('\n'))));
        Assert.Contains("\n  \"layers\"", Kubefly("image", "cat-manifest", "--pretty-print", multi).StandardOutput);

        // Removing the multi-layer image keeps the busybox layer the other image still needs.
        var rm = Kubefly("image", "rm", multi);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.Contains($"successfully removed image \"{multi}\"", rm.StandardOutput);
        var layer = Assert.Single(Directory.GetDirectories(Path.Combine(_state.Path, "images", "layers", "sha256")));
        Assert.True(File.Exists(Path.Combine(layer, "bin", "busybox")));
        Assert.Equal(254, Kubefly("image", "rm", multi).ExitCode);

        Assert.Equal(0, Kubefly("image", "gc", "--grace-period=1h").ExitCode);
        Assert.Single(ImageList());
        var gc = Kubefly("image", "gc", "--grace-period=0s");
        Assert.True(gc.ExitCode == 0, gc.ToString());
        Assert.Empty(ImageList());
        Assert.Empty(Directory.GetDirectories(Path.Combine(_state.Path, "images", "layers", "sha256")));
        Assert.Empty(Directory.GetFiles(Path.Combine(_state.Path, "images", "blobs", "sha256")));
    }

    [Fact]
    public void PullPolicies()
    {
        var never = Kubefly("fetch", "--pull-policy=never", TestImages.Reference(TestImages.Busybox));
        Assert.Equal(254, never.ExitCode);
        Assert.Contains("--pull-policy=never", never.StandardError);

        var first = Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.Busybox));
        Assert.Equal(first.StandardOutput, Kubefly("fetch", "--quiet", "--pull-policy=never", TestImages.Reference(TestImages.Busybox)).StandardOutput);
        Assert.Equal(first.StandardOutput, Kubefly("fetch", "--quiet", "--pull-policy=update", TestImages.Reference(TestImages.Busybox)).StandardOutput);
        Assert.Equal(2, Kubefly("fetch", "--pull-policy=sometimes", TestImages.Reference(TestImages.Busybox)).ExitCode);
    }

    [Theory]
    [InlineData("ftp://example.com/x", "unknown transport")]
    [InlineData("Busybox:UPPER", "must be lowercase")]
    [InlineData("oci:/nonexistent-layout:tag", "not an OCI image layout")]
    public void BadReferencesFailWithTheEngineExitCodeNamingTheInput(string reference, string message)
    {
        var result = Kubefly("fetch", reference);
        Assert.Equal(254, result.ExitCode);
        Assert.Contains(message, result.StandardError);
    }

    /// <summary>
    /// A flipped byte decompresses into garbage, and what the gzip or tar reader said about the garbage
    /// ("UnsupportedCompression", "an entry would replace the root directory") reached the user instead of
    /// the cause; the position decides which (a CI failure). Every position must read as a digest mismatch.
    /// </summary>
    [Theory]
    [InlineData(250)]
    [InlineData(500)]
    [InlineData(750)]
    [InlineData(875)]
    [InlineData(990)]
    public void CorruptBlobIsRejectedAsADigestMismatchAndNothingIsStored(int flippedBytePerMille)
    {
        var copy = _state.Combine("layout");
        ProgramRunner.Shell($"cp -r {TestImages.Layout} {copy}");
        var manifest = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(copy, "blobs", "sha256", LayoutManifestDigest(TestImages.Busybox).Hex)), OciJsonContext.Default.ImageManifest)!;
        var layerPath = Path.Combine(copy, "blobs", "sha256", manifest.Layers[0].Digest.Hex);
        var bytes = File.ReadAllBytes(layerPath);
        bytes[(int)((long)bytes.Length * flippedBytePerMille / 1000)] ^= 0xff;
        File.WriteAllBytes(layerPath, bytes);

        var result = Kubefly("fetch", "--quiet", $"oci:{copy}:{TestImages.Busybox}");
        Assert.Equal(254, result.ExitCode);
        Assert.Contains($"layer {manifest.Layers[0].Digest}", result.StandardError);
        Assert.Contains("digest mismatch", result.StandardError);
        Assert.Empty(ImageList());
        Assert.Empty(Directory.GetDirectories(Path.Combine(_state.Path, "images", "layers", "sha256")));
        Assert.DoesNotContain(manifest.Layers[0].Digest.Hex, Directory.GetFiles(Path.Combine(_state.Path, "images", "blobs", "sha256")).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_state.Path, "images", "tmp")));
    }

    [Fact]
    public void OnATerminalFetchRedrawsOneLivePerLayerLineInPlace()
    {
        // util-linux `script` gives fetch a real pseudo-terminal on stdin, stdout and stderr.
        var transcript = Path.Combine(_state.Path, "typescript");
        var command = $"TERM=xterm '{KubeflyProcess.BinaryPath}' --dir '{_state.Path}' fetch '{TestImages.Reference(TestImages.MultiLayer)}'";
        var result = ProgramRunner.Run("script", ["--quiet", "--return", "--command", command, transcript]);
        Assert.True(result.ExitCode == 0, result.ToString());

        var screen = File.ReadAllText(transcript);
        var manifestDigest = LayoutManifestDigest(TestImages.MultiLayer);
        var manifest = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(TestImages.Layout, "blobs", "sha256", manifestDigest.Hex)), OciJsonContext.Default.ImageManifest)!;
        Assert.True(manifest.Layers.Count >= 3);
        foreach (var layer in manifest.Layers.Select(l => l.Digest.ShortId()))
        {
            // Each layer's line is drawn over (erase line) and ends with its size done and a rate.
            Assert.Matches($@"\r\x1b\[2K{layer}  done  [0-9.]+ (B|KiB|MiB|GiB)/s", screen);
        }

        // Redrawn in place: the cursor goes back up over the lines already drawn, no plain log lines.
        Assert.Contains("\x1b[", screen, StringComparison.Ordinal);
        Assert.Matches(@"\x1b\[[0-9]+A", screen);
        Assert.DoesNotContain("fetching layer", screen, StringComparison.Ordinal);
        Assert.Matches("sha256:[0-9a-f]{64}", screen);

        // System.Console would have switched the terminal's keypad to application mode and left it so.
        Assert.DoesNotContain("\x1b[?1h", screen, StringComparison.Ordinal);
        Assert.DoesNotContain("\x1b=", screen, StringComparison.Ordinal);
    }

    [Fact]
    public void OutputToAReaderThatWentAwayIsNoError()
    {
        Assert.Equal(0, Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.Busybox)).ExitCode);
        Assert.Equal(0, Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.MultiLayer)).ExitCode);

        // `true` has long exited when list writes: every write meets EPIPE (SIGPIPE is ignored by .NET).
        var result = ProgramRunner.Run("bash", ["-c", $"set -o pipefail; (sleep 0.3; exec '{KubeflyProcess.BinaryPath}' --dir '{_state.Path}' image list --full) | true"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(string.Empty, result.StandardError);
    }

    private ProcessResult Kubefly(params string[] arguments) => KubeflyProcess.Run(["--dir", _state.Path, .. arguments]);

    private List<JsonElement> ImageList()
    {
        var result = Kubefly("image", "list", "--format=json");
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.StandardOutput).RootElement.EnumerateArray().ToList();
    }

    private static Digest LayoutManifestDigest(string tag)
    {
        var index = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(TestImages.Layout, "index.json")), OciJsonContext.Default.ImageIndex)!;
        return index.Manifests.Single(m => m.Annotations!["org.opencontainers.image.ref.name"] == tag).Digest;
    }

    private static string Inode(string path) => Stat("%i", path);

    private static string Stat(string format, string path) => ProgramRunner.Shell($"stat -c '{format}' '{path}'").Trim();
}
