using Kubefly.Fly;
using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Integration.Fly;

[Trait("Category", "Integration")]
public sealed class FlyEnterTests : IDisposable
{
    private readonly FlyWorkspace _workspace = new();

    public void Dispose() => _workspace.Dispose();

    [Fact]
    public void EnterRunsInThePodsRootAndSeesItsMounts()
    {
        var data = _workspace.Volume("data");
        File.WriteAllText(Path.Combine(data, "marker"), "in-the-volume");
        var plan = _workspace.Plan("sh", "-c", "mkdir -p /mnt && mount -t tmpfs pod-only /mnt && touch /data/ready && exec sleep 600") with
        {
            Mounts = [new FlyMount { Source = data, Target = "/data", VolumeName = "data" }],
        };
        var pod = _workspace.Start(plan, Path.Combine(data, "ready"));

        var result = ProgramRunner.Run(FlyHarnessProcess.DotnetPath, [FlyHarnessProcess.HarnessPath, "enter", pod.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "/", "--", "sh", "-c", "cat /data/marker; echo; grep -c pod-only /proc/self/mountinfo; ls /probe"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("in-the-volume\n1\n/probe\n", result.StandardOutput);
        Assert.DoesNotContain(HostMountTable.Read(), m => m.Source == "pod-only");
    }

    [Fact]
    public void EnterAnUnknownProcessFails()
    {
        var result = ProgramRunner.Run(FlyHarnessProcess.DotnetPath, [FlyHarnessProcess.HarnessPath, "enter", "999999999", "/", "--", "true"]);

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("/proc/999999999/ns/mnt", result.StandardError, StringComparison.Ordinal);
    }
}
