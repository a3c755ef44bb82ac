using Kubefly.Fly;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;
using Kubefly.Tests.Integration.Fly;

namespace Kubefly.Tests.Integration.Pods;

/// <summary>
/// Units written for rkt, through the real binary invoked as `rkt`: a plain third-party kubelet volume
/// (no kubefly wrapper, no propagation key) must carry the app's mounts to the host as rkt fly did,
/// and arguments after `--` must be appended to the image's exec (an etcd image with CMD only).
/// </summary>
[Trait("Category", "Integration")]
public sealed class RktCompatibilityTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("kubefly-rkt-it-").FullName;
    private readonly string shared;
    private readonly string image;

    public RktCompatibilityTests()
    {
        // A directory made a shared mount point stands for systemd's shared "/".
        shared = Path.Combine(dir, "host");
        Directory.CreateDirectory(shared);
        ProgramRunner.Shell($"mount --bind '{shared}' '{shared}' && mount --make-shared '{shared}'");
        var layout = Path.Combine(dir, "layout");
        var etcd = new TarBuilder()
            .Dir("usr/").Dir("usr/local/").Dir("usr/local/bin/")
            .File("usr/local/bin/etcd", "#!/bin/sh\necho \"etcd argv: $*\"\n", 0b111_101_101)
            .Build();
        new OciLayoutBuilder(layout).AddImage(
            [TestImages.BusyboxLayer(), etcd], LayerCompression.Gzip, Platform.Host,
            new ContainerConfig { Cmd = ["/usr/local/bin/etcd"], Env = ["PATH=/bin"] }, tag: "latest");
        image = $"oci:{layout}:latest";
    }

    public void Dispose()
    {
        foreach (var entry in HostMountTable.Read().Where(e => MountPlanner.IsAtOrUnder(e.MountPoint, dir)).OrderByDescending(e => e.MountPoint.Length))
        {
            ProgramRunner.Run("/bin/umount", ["-l", entry.MountPoint]);
        }

        ProgramRunner.Run("/bin/rm", ["-rf", "--one-file-system", dir]);
    }

    [Fact]
    public void A_third_party_kubelet_volume_carries_the_app_s_mounts_and_unmounts_to_the_host()
    {
        var kubelet = Path.Combine(shared, "kl");
        Directory.CreateDirectory(Path.Combine(kubelet, "pods", "secret"));
        Directory.CreateDirectory(Path.Combine(kubelet, "pods", "orphaned"));
        ProgramRunner.Shell($"mount -t tmpfs orphaned-volume '{kubelet}/pods/orphaned'");

        var result = Rkt("run", "--insecure-options=image", $"--volume=kl,kind=host,source={kubelet},recursive=true",
            "--mount", "volume=kl,target=/var/lib/kubelet", "--stage1-from-dir=stage1-fly.aci", image,
            "--exec=/bin/sh", "--", "-c", "mount -t tmpfs secret-volume /var/lib/kubelet/pods/secret && umount /var/lib/kubelet/pods/orphaned && grep -c ' /var/lib/kubelet' /proc/self/mountinfo");

        Assert.True(result.ExitCode == 0, result.ToString());
        var host = HostMountTable.Read();
        Assert.Contains(host, m => m.MountPoint == Path.Combine(kubelet, "pods", "secret") && m.Source == "secret-volume");
        Assert.DoesNotContain(host, m => m.MountPoint == Path.Combine(kubelet, "pods", "orphaned"));
        Assert.DoesNotContain(host, m => m.MountPoint == kubelet);

        // The pod's own mounts never reached the host, so rm meets no busy mount.
        Assert.DoesNotContain(host, m => m.MountPoint.StartsWith(Path.Combine(dir, "data") + "/", StringComparison.Ordinal));
        var uuid = Rkt("list", "--no-legend", "--full").StandardOutput.Split(' ', '\t')[0];
        Assert.True(Rkt("rm", uuid).ExitCode == 0);
    }

    [Fact]
    public void A_volume_on_a_private_host_mount_keeps_the_pod_s_mounts_inside()
    {
        var privateRoot = Path.Combine(dir, "private");
        Directory.CreateDirectory(Path.Combine(privateRoot, "kl", "v"));
        ProgramRunner.Shell($"mount --bind '{privateRoot}' '{privateRoot}' && mount --make-private '{privateRoot}'");

        var result = Rkt("run", "--insecure-options=image", $"--volume=kl,kind=host,source={privateRoot}/kl,recursive=true",
            "--mount", "volume=kl,target=/var/lib/kubelet", image, "--exec=/bin/sh", "--", "-c", "mount -t tmpfs pod-only /var/lib/kubelet/v");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain(HostMountTable.Read(), m => m.Source == "pod-only");
    }

    [Theory]
    [InlineData(new string[0], "etcd argv: \n")]
    [InlineData(new[] { "--" }, "etcd argv: \n")]
    [InlineData(new[] { "--", "---" }, "etcd argv: \n")]
    [InlineData(new[] { "--", "--listen-peer-urls=http://127.0.0.1:2380", "--name=n1" }, "etcd argv: --listen-peer-urls=http://127.0.0.1:2380 --name=n1\n")]
    public void Arguments_after_the_separator_are_appended_to_an_image_with_cmd_only(string[] tail, string expected)
    {
        var result = Rkt(["run", "--insecure-options=image", image, .. tail]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(expected, result.StandardOutput);
    }

    [Fact]
    public void Exec_replaces_the_image_s_cmd_and_the_arguments_follow_it()
    {
        var result = Rkt("run", "--insecure-options=image", image, "--exec=/bin/echo", "--", "only", "these");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("only these\n", result.StandardOutput);
    }

    private ProcessResult Rkt(params string[] arguments) => KubeflyProcess.Run(["--dir", Path.Combine(dir, "data"), .. arguments], invokeAs: "rkt");
}
