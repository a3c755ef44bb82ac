using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Systemd;
using Kubefly.Tests.Integration.Wrappers;

namespace Kubefly.Tests.Integration.Packaging;

/// <summary>
/// `make sysext`'s extension merged by systemd-sysext under real systemd (the directory form: loop
/// devices are not available inside the test container); the raw image's contents checked with unsquashfs.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SysextTests
{
    [Fact]
    public void The_extension_merges_into_usr_and_provides_kubefly_rkt_and_the_wrappers()
    {
        using var output = new TempDirectory("kubefly-sysext");
        var built = ProgramRunner.Run(Path.Combine(EngineContainer.RepositoryRoot(), "scripts", "build-sysext"), [output.Path]);
        Assert.True(built.ExitCode == 0, built.ToString());

        var listing = ProgramRunner.Shell($"unsquashfs -l {output.Combine("kubefly.raw")}");
        foreach (var path in new[] { "usr/bin/kubefly", "usr/bin/rkt", "usr/lib/coreos/kubelet-wrapper", "usr/lib/coreos/etcd-wrapper", "usr/lib/coreos/flannel-wrapper", "usr/lib/extension-release.d/extension-release.kubefly" })
        {
            Assert.Contains($"squashfs-root/{path}\n", listing, StringComparison.Ordinal);
        }

        Assert.Contains("ID=_any", File.ReadAllText(output.Combine("kubefly", "usr", "lib", "extension-release.d", "extension-release.kubefly")), StringComparison.Ordinal);
        Assert.True(File.Exists(output.Combine("kubefly", "usr", "share", "man", "man1", "kubefly.1")), "the man pages are in the extension");
        Assert.True(File.Exists(output.Combine("kubefly", "usr", "share", "man", "man8", "kubelet-wrapper.8")), "the wrappers' man pages are in the extension");

        using var container = SystemdContainer.Boot([new ContainerBind(output.Combine("kubefly"), "/var/lib/extensions/kubefly")]);
        Assert.NotEqual(0, container.Exec(["test", "-e", "/usr/bin/rkt"]).ExitCode);
        var merge = container.Exec(["systemd-sysext", "merge"]);
        Assert.True(merge.ExitCode == 0, merge.ToString());
        try
        {
            Assert.Contains("kubefly", container.Shell("systemd-sysext status"), StringComparison.Ordinal);
            Assert.Contains("rkt Version", container.Shell("rkt version"), StringComparison.Ordinal);
            var wrapper = container.Exec(["/usr/lib/coreos/kubelet-wrapper"]);
            Assert.Contains("KUBELET_IMAGE_TAG", wrapper.StandardOutput + wrapper.StandardError, StringComparison.Ordinal);
        }
        finally
        {
            container.Exec(["systemd-sysext", "unmerge"]);
        }

        Assert.NotEqual(0, container.Exec(["test", "-e", "/usr/bin/rkt"]).ExitCode);
    }
}
