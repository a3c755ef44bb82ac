using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;
using Kubefly.Tests.Infrastructure.Systemd;
using Kubefly.Tests.Integration.Wrappers;

namespace Kubefly.Tests.Integration.Packaging;

/// <summary>
/// `make deb`'s packages on a fresh Debian (the systemd test rootfs, booted): installed with apt-get
/// offline, used, removed; removal leaves none of the packages' files and keeps the store.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DebianPackageTests
{
    [Fact]
    public void The_packages_install_with_apt_run_as_rkt_and_kubelet_wrapper_and_remove_cleanly()
    {
        using var debs = new TempDirectory("kubefly-debs");
        using var images = new TempDirectory("kubefly-deb-images");
        var built = ProgramRunner.Run(Path.Combine(EngineContainer.RepositoryRoot(), "scripts", "build-deb"), [debs.Path]);
        Assert.True(built.ExitCode == 0, built.ToString());
        ProgramRunner.Shell($"skopeo copy -q oci:{TestImages.Layout}:{TestImages.Busybox} docker-archive:{images.Combine("hyperkube.tar")}:quay.io/coreos/hyperkube:v1.5.4_coreos.0");

        using var container = SystemdContainer.Boot([new ContainerBind(debs.Path, "/debs"), new ContainerBind(images.Path, "/images")]);
        var install = container.Exec(["sh", "-c", "apt-get install -y -q /debs/kubefly_*.deb /debs/kubefly-rkt-compat_*.deb 2>&1"]);
        Assert.True(install.ExitCode == 0, install.ToString());
        var files = container.Shell("dpkg -L kubefly kubefly-rkt-compat").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("/usr/lib/coreos/kubelet-wrapper", files);
        Assert.Contains("/usr/bin/rkt", files);
        Assert.Contains("/usr/share/man/man1/kubefly-run.1.gz", files);
        Assert.Contains("/usr/share/man/man8/kubelet-wrapper.8.gz", files);
        Assert.Contains("/usr/share/bash-completion/completions/kubefly", files);
        Assert.Contains("/usr/share/bash-completion/completions/rkt", files);
        Assert.Contains("KUBELET_IMAGE_TAG", container.Shell("/usr/lib/coreos/kubelet-wrapper --help"), StringComparison.Ordinal);

        Assert.Contains("rkt Version", container.Shell("rkt version"), StringComparison.Ordinal);
        var imported = container.Exec(["kubefly", "image", "import", "/images/hyperkube.tar"]);
        Assert.True(imported.ExitCode == 0, imported.ToString());
        Assert.Contains("quay.io/coreos/hyperkube", container.Shell("rkt image list --fields=name --no-legend"), StringComparison.Ordinal);
        var missingVariable = container.Exec(["/usr/lib/coreos/kubelet-wrapper"]);
        Assert.Contains("KUBELET_IMAGE_TAG", missingVariable.StandardError + missingVariable.StandardOutput, StringComparison.Ordinal);

        var remove = container.Exec(["sh", "-c", "apt-get remove -y -q kubefly-rkt-compat kubefly 2>&1"]);
        Assert.True(remove.ExitCode == 0, remove.ToString());
        var left = files.Where(f => !Directory.Exists(f) || f.StartsWith("/usr/share/doc/kubefly", StringComparison.Ordinal))
            .Where(f => container.Exec(["test", "-e", f]).ExitCode == 0 || container.Exec(["test", "-L", f]).ExitCode == 0)
            .ToList();
        Assert.True(left.Count == 0, $"left behind: {string.Join(", ", left)}");
        Assert.Equal(0, container.Exec(["test", "-d", "/var/lib/kubefly/images"]).ExitCode);
    }
}
