using Kubefly.Tests.Infrastructure.Systemd;

namespace Kubefly.Tests.Integration.Wrappers;

/// <summary>
/// Every kubelet unit CoreOS documented (<see cref="SeedUnits"/>), unchanged, under a real systemd, with kubefly
/// as /usr/lib/coreos/kubelet-wrapper and a recording stand-in for /usr/bin/rkt: the argv the engine
/// receives, the exec chain (systemd's main PID ends up in the engine's app), ExecStartPre/ExecStop.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SeedUnitsUnderSystemdTests : IClassFixture<WrapperContainer>
{
    private const string Unit = SeedUnits.Name;
    private const string Flags = "--api-servers=http://127.0.0.1:8080 --pod-manifest-path=/etc/kubernetes/manifests";

    // bookworm minbase has no /etc/ssl/certs, /usr/share/ca-certificates or /lib/modules: those system
    // volumes are skipped; the four kubelet directories are created by the wrapper.
    private static readonly string[] SystemArgsInContainer =
    [
        "--volume", "coreos-etc-kubernetes,kind=host,source=/etc/kubernetes,readOnly=false",
        "--volume", "coreos-var-lib-docker,kind=host,source=/var/lib/docker,readOnly=false",
        "--volume", "coreos-var-lib-kubelet,kind=host,source=/var/lib/kubelet,readOnly=false,recursive=true,propagation=rshared",
        "--volume", "coreos-var-log,kind=host,source=/var/log,readOnly=false",
        "--volume", "coreos-os-release,kind=host,source=/usr/lib/os-release,readOnly=true",
        "--volume", "coreos-run,kind=host,source=/run,readOnly=false",
        "--volume", "coreos-etc-machine-id,kind=host,source=/etc/machine-id,readOnly=true",
        "--mount", "volume=coreos-etc-kubernetes,target=/etc/kubernetes",
        "--mount", "volume=coreos-var-lib-docker,target=/var/lib/docker",
        "--mount", "volume=coreos-var-lib-kubelet,target=/var/lib/kubelet",
        "--mount", "volume=coreos-var-log,target=/var/log",
        "--mount", "volume=coreos-os-release,target=/etc/os-release",
        "--mount", "volume=coreos-run,target=/run",
        "--mount", "volume=coreos-etc-machine-id,target=/etc/machine-id",
        "--hosts-entry", "host",
        "--stage1-from-dir=stage1-fly.aci", "docker://quay.io/coreos/hyperkube:v1.5.4_coreos.0", "--exec=/kubelet", "--",
        "--api-servers=http://127.0.0.1:8080", "--pod-manifest-path=/etc/kubernetes/manifests",
    ];

    private readonly WrapperContainer _host;

    public SeedUnitsUnderSystemdTests(WrapperContainer host)
    {
        _host = host;
        _host.Reset(Unit);
    }

    private SystemdContainer Container => _host.Container;

    private RecordedEngineCall StartAndRecord(string unitText)
    {
        _host.InstallUnit(Unit, unitText);
        var start = Container.Systemctl("start", Unit);
        Assert.True(start.ExitCode == 0, $"{start}\n{_host.Journal(Unit)}");
        return _host.WaitForRunCall(Unit);
    }

    [Fact]
    public void Seed_example_unit()
    {
        var run = StartAndRecord(SeedUnits.Basic);

        Assert.Equal((string[])["run", "--uuid-file-save=/var/run/kubelet-pod.uuid", "--insecure-options=image", .. SystemArgsInContainer], run.Arguments);
        Assert.Equal(["rm", "--uuid-file=/var/run/kubelet-pod.uuid"], _host.Calls()[0].Arguments);
        Assert.Equal("active", Container.Systemctl("is-active", Unit).StandardOutput.Trim());

        // The wrapper exec'd the engine in its own place: systemd's main PID is the engine's app.
        var mainPid = _host.MainPid(Unit);
        Assert.Equal("sleep\n", Container.Exec("cat", $"/proc/{mainPid}/comm").StandardOutput);
        Assert.Equal("stub-pod-uuid", Container.Shell("cat /var/run/kubelet-pod.uuid"));

        // The host side: the directories exist and /var/lib/kubelet is a shared mount point.
        Container.Shell("test -d /etc/kubernetes && test -d /var/lib/docker && test -d /run/kubelet");
        Assert.Matches(@" /var/lib/kubelet rw[^ ]* shared:\d+", Container.Shell("grep ' /var/lib/kubelet ' /proc/1/mountinfo"));

        var journal = _host.WaitForJournal(Unit, "+ /usr/bin/rkt run ");
        Assert.Contains("+ /usr/bin/rkt run --uuid-file-save=/var/run/kubelet-pod.uuid --insecure-options=image --volume coreos-etc-kubernetes", journal, StringComparison.Ordinal);
        Assert.Contains("skipping volume coreos-lib-modules: /lib/modules does not exist on this host", journal, StringComparison.Ordinal);
        Assert.Contains("warning: the kubelet API accepts anonymous requests", journal, StringComparison.Ordinal);
        Assert.Contains("hint: --api-servers is not accepted by current kubelets", journal, StringComparison.Ordinal);

        var stop = Container.Systemctl("stop", Unit);
        Assert.Equal(0, stop.ExitCode);
        Assert.Equal(["stop", "--uuid-file=/var/run/kubelet-pod.uuid"], _host.Calls()[^1].Arguments);
        Assert.Equal("inactive", Container.Systemctl("is-active", Unit).StandardOutput.Trim());
    }

    [Fact]
    public void Seed_host_dns_unit()
    {
        var run = StartAndRecord(SeedUnits.HostDns);

        Assert.Equal(
            (string[])
            [
                "run", "--volume=resolv,kind=host,source=/etc/resolv.conf", "--mount", "volume=resolv,target=/etc/resolv.conf",
                "--uuid-file-save=/var/run/kubelet-pod.uuid", "--insecure-options=image", .. SystemArgsInContainer,
            ],
            run.Arguments);
    }

    [Fact]
    public void Seed_iscsi_unit()
    {
        var run = StartAndRecord(SeedUnits.Iscsi);

        Assert.Equal(
            (string[])
            [
                "run", "--volume", "iscsiadm,kind=host,source=/usr/sbin/iscsiadm", "--mount", "volume=iscsiadm,target=/usr/sbin/iscsiadm",
                "--uuid-file-save=/var/run/kubelet-pod.uuid", "--insecure-options=image", .. SystemArgsInContainer,
            ],
            run.Arguments);
    }

    [Fact]
    public void Seed_rbd_unit_completed_with_the_example_exec_lines()
    {
        var run = StartAndRecord(SeedUnits.Rbd);

        Assert.Equal(
            (string[])
            [
                "run", "--volume", "modprobe,kind=host,source=/usr/sbin/modprobe", "--mount", "volume=modprobe,target=/usr/sbin/modprobe",
                "--volume", "lib-modules,kind=host,source=/lib/modules", "--mount", "volume=lib-modules,target=/lib/modules",
                "--uuid-file-save=/var/run/kubelet-pod.uuid", "--insecure-options=image", .. SystemArgsInContainer,
            ],
            run.Arguments);
    }

    [Fact]
    public void Seed_manual_deployment_from_opt_bin()
    {
        var run = StartAndRecord(SeedUnits.ManualOptBin);

        Assert.Equal((string[])["run", "--insecure-options=image", .. SystemArgsInContainer], run.Arguments);
    }

    [Fact]
    public void A_unit_without_an_image_fails_with_the_originals_message_and_status_1()
    {
        _host.InstallUnit(Unit, "[Service]\nExecStart=/usr/lib/coreos/kubelet-wrapper --pod-manifest-path=/etc/kubernetes/manifests\n");

        Container.Systemctl("start", Unit);

        Assert.Equal("failed", _host.WaitForState(Unit, "failed"));
        var journal = _host.WaitForJournal(Unit, "must be set");
        Assert.Contains("One of KUBELET_IMAGE KUBELET_IMAGE_TAG must be set", journal, StringComparison.Ordinal);
        Assert.Equal("1", Container.Systemctl("show", "-p", "ExecMainStatus", "--value", Unit).StandardOutput.Trim());
        Assert.Empty(_host.Calls());
    }

    [Fact]
    public void Enforce_refuses_an_open_kubelet_api_and_accepts_a_closed_one()
    {
        _host.InstallUnit(Unit, $"""
            [Service]
            Environment=KUBELET_IMAGE_TAG=v1.5.4_coreos.0
            Environment=KUBEFLY_KUBELET_API=enforce
            ExecStart=/usr/lib/coreos/kubelet-wrapper {Flags}
            """);
        Container.Systemctl("start", Unit);

        Assert.Equal("failed", _host.WaitForState(Unit, "failed"));
        Assert.Contains("refusing to start the kubelet (KUBEFLY_KUBELET_API=enforce)", _host.WaitForJournal(Unit, "refusing"), StringComparison.Ordinal);
        Assert.Empty(_host.Calls());

        _host.Reset(Unit);
        var run = StartAndRecord($"""
            [Service]
            Environment=KUBELET_IMAGE_TAG=v1.5.4_coreos.0
            Environment=KUBEFLY_KUBELET_API=enforce
            ExecStart=/usr/lib/coreos/kubelet-wrapper --kubeconfig=/etc/kubernetes/kubelet.conf --anonymous-auth=false --authorization-mode=Webhook --read-only-port=0
            """);
        Assert.Equal(["--", "--kubeconfig=/etc/kubernetes/kubelet.conf", "--anonymous-auth=false", "--authorization-mode=Webhook", "--read-only-port=0"], run.Arguments.TakeLast(5));
        Assert.DoesNotContain("warning:", _host.Journal(Unit), StringComparison.Ordinal);
    }
}
