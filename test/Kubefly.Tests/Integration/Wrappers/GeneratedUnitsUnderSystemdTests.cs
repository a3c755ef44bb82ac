using Kubefly.Tests.Infrastructure.Systemd;

namespace Kubefly.Tests.Integration.Wrappers;

/// <summary>`kubefly unit NAME` output, installed as is under a real systemd, drives the wrapper and the engine.</summary>
[Trait("Category", "Integration")]
public sealed class GeneratedUnitsUnderSystemdTests : IClassFixture<WrapperContainer>
{
    private readonly WrapperContainer _host;

    public GeneratedUnitsUnderSystemdTests(WrapperContainer host) => _host = host;

    private SystemdContainer Container => _host.Container;

    private string Generate(params string[] arguments) => Container.Shell("kubefly unit " + string.Join(' ', arguments.Select(Kubefly.Wrappers.ShellWords.Quote)));

    [Fact]
    public void Kubelet_unit_runs_and_its_uuid_file_lives_under_var_lib_kubefly()
    {
        const string unit = "kubelet.service";
        _host.Reset(unit);
        _host.InstallUnit(unit, Generate("kubelet", "--image-tag=v1.5.4_coreos.0", "--", "--kubeconfig=/etc/kubernetes/kubelet.conf", "--node-labels=role=a b", "--root-dir=$HOME"));

        Assert.Equal(0, Container.Systemctl("start", unit).ExitCode);
        var run = _host.WaitForRunCall(unit);

        Assert.Equal(["--", "--kubeconfig=/etc/kubernetes/kubelet.conf", "--node-labels=role=a b", "--root-dir=$HOME"], run.Arguments.TakeLast(4));
        Assert.Contains("--uuid-file-save=/var/lib/kubefly/kubelet-pod.uuid", run.Arguments);
        Assert.Equal("stub-pod-uuid", Container.Shell("cat /var/lib/kubefly/kubelet-pod.uuid"));
        Assert.Equal(["rm", "--uuid-file=/var/lib/kubefly/kubelet-pod.uuid"], _host.Calls()[0].Arguments);

        Assert.Equal(0, Container.Systemctl("stop", unit).ExitCode);
        Assert.Equal(["stop", "--uuid-file=/var/lib/kubefly/kubelet-pod.uuid"], _host.Calls()[^1].Arguments);
    }

    [Fact]
    public void Etcd_member_unit_is_notify_with_the_socket_the_data_dir_and_the_user()
    {
        const string unit = "etcd-member.service";
        _host.Reset(unit);
        _host.InstallUnit(unit, Generate("etcd", "--image=docker://127.0.0.1:5000/coreos/etcd:v3.4.23", "--", "--name=member0"));

        // The stand-in signals readiness from a child of the main process, which systemd accepts only with NotifyAccess=all.
        Container.WriteFile($"/etc/systemd/system/{unit}.d/stand-in.conf", "[Service]\nNotifyAccess=all\nEnvironment=RKT_STUB_NOTIFY=1\n");
        Container.Shell("systemctl daemon-reload");

        var start = Container.Systemctl("start", unit);
        Assert.True(start.ExitCode == 0, $"{start}\n{_host.Journal(unit)}");
        Assert.Equal("active", Container.Systemctl("is-active", unit).StandardOutput.Trim());
        var run = _host.WaitForRunCall(unit);

        var uid = Container.Shell("id -u etcd").Trim();
        Assert.Contains("--mount", run.Arguments);
        Assert.Contains("coreos-notify,kind=host,source=/run/systemd/notify", run.Arguments);
        Assert.Contains("--set-env=NOTIFY_SOCKET=/run/systemd/notify", run.Arguments);
        Assert.Contains("coreos-systemd-dir,kind=host,source=/run/systemd/system,readOnly=true", run.Arguments);
        Assert.Contains("coreos-data-dir,kind=host,source=/var/lib/etcd,readOnly=false", run.Arguments);
        Assert.Equal(["--inherit-env", "--stage1-from-dir=stage1-fly.aci", "docker://127.0.0.1:5000/coreos/etcd:v3.4.23", $"--user={uid}", "--", "--name=member0"], run.Arguments.TakeLast(6));
        Assert.Equal("/var/lib/etcd", run.Environment["ETCD_DATA_DIR"]);
        Assert.Equal(uid, Container.Shell("stat -c %u /var/lib/etcd").Trim());

        Assert.Equal(0, Container.Systemctl("stop", unit).ExitCode);
    }

    [Fact]
    public void Flanneld_unit_runs_with_host_network_and_its_options_file()
    {
        const string unit = "flanneld.service";
        _host.Reset(unit);
        Container.Shell("mkdir -p /run/flannel && echo 'FLANNEL_OPTS=--ip-masq=true --iface=lo' > /run/flannel/options.env");
        _host.InstallUnit(unit, Generate("flannel", "--image-tag=v0.11.0"));
        Container.WriteFile($"/etc/systemd/system/{unit}.d/stand-in.conf", "[Service]\nNotifyAccess=all\nEnvironment=RKT_STUB_NOTIFY=1\n");
        Container.Shell("systemctl daemon-reload");

        var start = Container.Systemctl("start", unit);
        Assert.True(start.ExitCode == 0, $"{start}\n{_host.Journal(unit)}");
        var run = _host.WaitForRunCall(unit);

        Assert.Contains("--net=host", run.Arguments);
        Assert.Contains("coreos-run-flannel,kind=host,source=/run/flannel,readOnly=false", run.Arguments);
        Assert.Equal(["docker://quay.io/coreos/flannel:v0.11.0", "--", "--ip-masq=true", "--iface=lo"], run.Arguments.TakeLast(4));

        Assert.Equal(0, Container.Systemctl("stop", unit).ExitCode);
    }
}
