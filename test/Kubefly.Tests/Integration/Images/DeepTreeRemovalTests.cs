using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;
using Kubefly.Tests.Unit.Linux;

namespace Kubefly.Tests.Integration.Images;

/// <summary>
/// Removal at any depth through the real binary (hardening issue, item 1): a layer deeper than any path
/// string fetches, is removed by image rm and gc, and neither it nor a failed pull of it, nor scratch
/// space that cannot be removed, breaks a later command.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DeepTreeRemovalTests : IDisposable
{
    private readonly TempDirectory _state = new("kubefly-state");
    private readonly TempDirectory _layouts = new("kubefly-layout");

    public void Dispose()
    {
        _state.Dispose();
        _layouts.Dispose();
    }

    private string Tmp => Path.Combine(_state.Path, "images", "tmp");

    [Fact]
    public void ImageRmOfA2040LevelDeepLayerSucceedsAndLeavesTheStoreUsable()
    {
        var layout = DeepLayout(levels: 2040, diffIds: null);

        var fetch = Kubefly("fetch", "--quiet", layout);
        Assert.True(fetch.ExitCode == 0, fetch.ToString());
        var rm = Kubefly("image", "rm", fetch.StandardOutput.Trim());
        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.DoesNotContain("warning", rm.StandardError);

        Assert.Empty(Directory.GetFileSystemEntries(Tmp));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_state.Path, "images", "layers", "sha256")));
        var again = Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.Busybox));
        Assert.True(again.ExitCode == 0, again.ToString());
        var gc = Kubefly("image", "gc", "--grace-period=0s");
        Assert.True(gc.ExitCode == 0, gc.ToString());
    }

    [Fact]
    public void AFailedPullOfADeepLayerLeavesNoScratchBehind()
    {
        var layout = DeepLayout(levels: 2040, diffIds: [Digest.Compute("not this layer"u8)]);

        var fetch = Kubefly("fetch", "--quiet", layout);
        Assert.Equal(254, fetch.ExitCode);
        Assert.Contains("diff_id", fetch.StandardError);

        Assert.Empty(Directory.GetFileSystemEntries(Tmp));
        var next = Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.Busybox));
        Assert.True(next.ExitCode == 0, next.ToString());
        Assert.Equal(0, Kubefly("image", "gc", "--grace-period=0s").ExitCode);
    }

    [Fact]
    public void ADeepTreeACrashLeftInTmpIsRemovedByTheNextCommand()
    {
        // What a kill -9 during image rm leaves: a renamed layer, 4,096 levels deep, and an abandoned scratch area.
        Assert.Equal(0, Kubefly("image", "list").ExitCode);
        Directory.CreateDirectory(Path.Combine(Tmp, "deleting-crashed"));
        TreeRemoverTests.MakeChain(Path.Combine(Tmp, "deleting-crashed"), "a", 4096).Dispose();
        Directory.CreateDirectory(Path.Combine(Tmp, "abandoned"));
        File.WriteAllBytes(Path.Combine(Tmp, "abandoned.lock"), []);
        TreeRemoverTests.MakeChain(Path.Combine(Tmp, "abandoned"), new string('x', 255), 300).Dispose();

        var fetch = Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.Busybox));
        Assert.True(fetch.ExitCode == 0, fetch.ToString());
        Assert.Empty(Directory.GetFileSystemEntries(Tmp));
    }

    [Fact]
    public void ScratchSpaceThatCannotBeRemovedIsReportedAndFailsNoCommand()
    {
        Assert.Equal(0, Kubefly("image", "list").ExitCode);
        var mountPoint = Path.Combine(Tmp, "abandoned", "mnt");
        Directory.CreateDirectory(mountPoint);
        File.WriteAllBytes(Path.Combine(Tmp, "abandoned.lock"), []);
        ProgramRunner.Shell($"mount -t tmpfs kubefly-test {mountPoint}");
        try
        {
            File.WriteAllText(Path.Combine(mountPoint, "other-fs"), "keep");
            var fetch = Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.Busybox));
            Assert.True(fetch.ExitCode == 0, fetch.ToString());
            Assert.Contains("warning: could not remove scratch space", fetch.StandardError);
            Assert.Contains("mounted", fetch.StandardError);
            var gc = Kubefly("image", "gc", "--grace-period=0s");
            Assert.True(gc.ExitCode == 0, gc.ToString());
            Assert.Equal("keep", File.ReadAllText(Path.Combine(mountPoint, "other-fs")));
        }
        finally
        {
            ProgramRunner.Shell($"umount {mountPoint}");
        }

        Assert.Equal(0, Kubefly("image", "gc").ExitCode);
        Assert.Empty(Directory.GetFileSystemEntries(Tmp));
    }

    private string DeepLayout(int levels, IReadOnlyList<Digest>? diffIds)
    {
        var tar = new TarBuilder().Dir(string.Concat(Enumerable.Repeat("a/", levels))).Build();
        var directory = _layouts.Combine(Guid.NewGuid().ToString("N"));
        new OciLayoutBuilder(directory).AddImage([tar], LayerCompression.Gzip, Platform.Host, tag: "deep", diffIds: diffIds);
        return $"oci:{directory}:deep";
    }

    private ProcessResult Kubefly(params string[] arguments) => KubeflyProcess.Run(["--dir", _state.Path, .. arguments]);
}
