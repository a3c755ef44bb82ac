using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Integration.Pods;

/// <summary>An image a pod uses keeps its layers (its overlay's lower dirs) until the pod is removed.</summary>
[Trait("Category", "Integration")]
public sealed class ImageInUseTests : IDisposable
{
    private readonly TempDirectory _state = new("kubefly-state");

    public void Dispose() => _state.Dispose();

    [Fact]
    public void ImageRmAndGcKeepAnImageWhileAPodUsesIt()
    {
        var image = TestImages.Reference(TestImages.Busybox);
        var id = Kubefly("fetch", "--quiet", image).StandardOutput.Trim();
        var uuidFile = _state.Combine("pod.uuid");
        using var pod = KubeflyProcess.Start(["--dir", _state.Path, "run", $"--uuid-file-save={uuidFile}", "--pull-policy=never", image, "--exec=/bin/sleep", "--", "600"]);
        try
        {
            Wait.Until(() => File.Exists(uuidFile) || pod.HasExited, TimeSpan.FromSeconds(30), "run to save the pod's uuid");

            var uuid = File.ReadAllText(uuidFile);
            var rm = Kubefly("image", "rm", id);
            Assert.Equal(254, rm.ExitCode);
            Assert.Contains(uuid, rm.StandardError);
            Assert.Equal(0, Kubefly("image", "gc", "--grace-period=0s").ExitCode);
            Assert.Contains(id, Kubefly("image", "list", "--full").StandardOutput);
        }
        finally
        {
            pod.Kill();
            pod.WaitForExit();
        }

        Assert.Equal(0, Kubefly("rm", $"--uuid-file={uuidFile}").ExitCode);
        var removed = Kubefly("image", "rm", id);
        Assert.True(removed.ExitCode == 0, removed.ToString());
    }

    private ProcessResult Kubefly(params string[] arguments) => KubeflyProcess.Run(["--dir", _state.Path, .. arguments]);
}
