using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Systemd;

namespace Kubefly.Tests.Integration.Wrappers;

/// <summary>
/// The container of <see cref="SeedUnitsWithTheEngineTests"/>: kubefly's engine, the demo stand-in
/// kubelet (scripts/build-demo-image) served as quay.io/coreos/hyperkube:v1.5.4_coreos.0, and the host
/// files a real node has and the seed's units mount or the wrapper uses (created here as plain files and
/// directories: the minbase rootfs has no CA certificates, kernel modules, /etc/hosts, iscsiadm or modprobe).
/// </summary>
public sealed class KubeletEngineContainer : EngineContainer
{
    public KubeletEngineContainer()
    {
        try
        {
            using var layout = new TempDirectory("demo-image");
            ProgramRunner.Shell($"'{Path.Combine(RepositoryRoot(), "scripts", "build-demo-image")}' '{layout.Path}/layout' >/dev/null");
            PushAsQuayImage($"oci:{layout.Path}/layout:{SeedUnits.ImageTag}", $"coreos/hyperkube:{SeedUnits.ImageTag}");
            Container.Shell("""
                mkdir -p /etc/ssl/certs /usr/share/ca-certificates/mozilla "/lib/modules/$(uname -r)/kernel"
                [ -e /etc/hosts ] || printf '127.0.0.1 localhost\n' > /etc/hosts
                echo 'a CA bundle' > /etc/ssl/certs/ca-certificates.crt
                echo 'a CA' > /usr/share/ca-certificates/mozilla/a-ca.crt
                : > "/lib/modules/$(uname -r)/modules.dep"
                printf '#!/bin/sh\necho "iscsiadm (host stand-in)"\n' > /usr/sbin/iscsiadm
                printf '#!/bin/sh\necho "modprobe (host stand-in)"\n' > /usr/sbin/modprobe
                chmod 0755 /usr/sbin/iscsiadm /usr/sbin/modprobe
                """);
        }
        catch
        {
            Dispose();
            throw;
        }
    }
}

/// <summary>
/// The seed's units, verbatim, end to end: real systemd, kubefly as /usr/lib/coreos/kubelet-wrapper (and
/// /opt/bin/kubelet-wrapper) and /usr/bin/rkt, pulling quay.io/coreos/hyperkube:v1.5.4_coreos.0 from the
/// loopback mirror and exec'ing the demo's stand-in kubelet, which checks from inside every volume it
/// sees (access, and which host file it is) and reports on the /var/lib/kubelet host volume. Each unit
/// is started, checked, stopped, started again and stopped.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SeedUnitsWithTheEngineTests : IClassFixture<KubeletEngineContainer>
{
    private const string Unit = SeedUnits.Name;
    private const string Report = "/var/lib/kubelet/standin-report";

    /// <summary>kubelet-wrapper's system volumes (docs/wrappers.md): host source, target, read-only.</summary>
    private static readonly Volume[] SystemVolumes =
    [
        new("/etc/kubernetes", "/etc/kubernetes", ReadOnly: false),
        new("/etc/ssl/certs", "/etc/ssl/certs", ReadOnly: true),
        new("/usr/share/ca-certificates", "/usr/share/ca-certificates", ReadOnly: true),
        new("/var/lib/docker", "/var/lib/docker", ReadOnly: false),
        new("/var/lib/kubelet", "/var/lib/kubelet", ReadOnly: false),
        new("/var/log", "/var/log", ReadOnly: false),
        new("/usr/lib/os-release", "/etc/os-release", ReadOnly: true),
        new("/run", "/run", ReadOnly: false),
        new("/lib/modules", "/lib/modules", ReadOnly: true),
        new("/etc/machine-id", "/etc/machine-id", ReadOnly: true),

        // Not a volume: --hosts-entry host, which fly stage1 served by binding the host's file read-only.
        new("/etc/hosts", "/etc/hosts", ReadOnly: true),
    ];

    private readonly KubeletEngineContainer _host;

    public SeedUnitsWithTheEngineTests(KubeletEngineContainer host)
    {
        _host = host;
        _host.Reset(Unit);
    }

    private SystemdContainer Container => _host.Container;

    [Fact]
    public void Seed_example_unit() => Drive(SeedUnits.Basic, userVolumes: []);

    [Fact]
    public void Seed_host_dns_unit() => Drive(SeedUnits.HostDns, userVolumes: [new("/etc/resolv.conf", "/etc/resolv.conf", ReadOnly: false)]);

    [Fact]
    public void Seed_iscsi_unit() => Drive(SeedUnits.Iscsi, userVolumes: [new("/usr/sbin/iscsiadm", "/usr/sbin/iscsiadm", ReadOnly: false)]);

    [Fact]
    public void Seed_rbd_unit()
    {
        // The user's lib-modules (rw) and the system's coreos-lib-modules (ro) share a target: the later
        // --mount, the system one, is what the kubelet sees, as under rkt.
        Drive(SeedUnits.Rbd, userVolumes: [new("/usr/sbin/modprobe", "/usr/sbin/modprobe", ReadOnly: false), new("/lib/modules", "/lib/modules", ReadOnly: false)]);
    }

    [Fact]
    public void Seed_manual_deployment_from_opt_bin() => Drive(SeedUnits.ManualOptBin, userVolumes: [], savesUuid: false);

    /// <summary>
    /// The seed's first unit, unchanged, with a drop-in that makes its pods transient: the unit's
    /// ExecStartPre `rkt rm`, ExecStop `rkt stop` and a later `rkt gc` find the pod in /run (a tmpfs, as
    /// nspawn and systemd make it), and nothing of it lands in the state directory.
    /// </summary>
    [Fact]
    public void Seed_example_unit_with_transient_pods()
    {
        const string dropIn = $"/etc/systemd/system/{Unit}.d/transient-pods.conf";
        Container.WriteFile(dropIn, "[Service]\nEnvironment=KUBEFLY_TRANSIENT_PODS=true\n");
        try
        {
            // The first start's ExecStartPre may remove the pod an earlier test left on the disk under the
            // same uuid file; no pod may be added there.
            var podsOnDisk = Pods().Split('\n');
            Drive(SeedUnits.Basic, userVolumes: [], transient: true);
            Assert.Empty(Pods().Split('\n').Except(podsOnDisk));

            var gc = Container.Exec("rkt", "gc", "--grace-period=0s");
            Assert.True(gc.ExitCode == 0, gc.ToString());
            Assert.Equal(string.Empty, Container.Shell("find /run/kubefly -mindepth 4 -maxdepth 4 -path '*/pods/*' 2>/dev/null").Trim());
        }
        finally
        {
            Container.Shell($"rm -rf /etc/systemd/system/{Unit}.d && systemctl daemon-reload");
        }
    }

    [Fact]
    public void A_mount_the_kubelet_makes_under_var_lib_kubelet_reaches_the_host()
    {
        // The seed's first unit with one more kubelet flag: the stand-in mounts a tmpfs there.
        _host.InstallUnit(Unit, SeedUnits.Basic.Replace(
            "--pod-manifest-path=/etc/kubernetes/manifests",
            "--pod-manifest-path=/etc/kubernetes/manifests --standin-mount=/var/lib/kubelet/standin-tmpfs",
            StringComparison.Ordinal));
        var cursor = Container.JournalCursor();
        Assert.Equal(0, Container.Systemctl("start", Unit).ExitCode);
        try
        {
            Assert.Equal("ok", WaitForHealthz(cursor));
            Assert.Contains(" /var/lib/kubelet/standin-tmpfs ", Container.Shell("cat /proc/1/mountinfo"), StringComparison.Ordinal);
            Assert.Equal("standin\n", Container.Shell("cat /var/lib/kubelet/standin-tmpfs/made-by-standin"));
        }
        finally
        {
            Container.Systemctl("stop", Unit);

            // It stays on the host after the kubelet is gone, as pod volumes did under rkt: unmount it here.
            Container.Exec("umount", "/var/lib/kubelet/standin-tmpfs");
        }
    }

    /// <summary>
    /// A third-party wrapper of the CoreOS era (a provider's node template): its own script calls plain
    /// `rkt run` with a recursive host volume for the kubelet's directory, which is a plain directory on
    /// the host's shared "/", no propagation key, and `rkt gc --mark-only` after stop. The stand-in mounts
    /// a pod volume there and unmounts an orphaned one: the host must see both, as it did under rkt fly.
    /// </summary>
    [Fact]
    public void A_third_party_rkt_wrapper_s_kubelet_mounts_and_unmounts_reach_the_host()
    {
        const string unit = "thirdparty-kubelet.service";
        const string source = "/srv/thirdparty/kubelet";
        Container.WriteFile("/opt/bin/thirdparty-kubelet-wrapper", $"""
            #!/bin/sh
            exec /usr/bin/rkt run --uuid-file-save=/var/run/thirdparty-kubelet.uuid \
              --volume var-lib-kubelet,kind=host,source={source},recursive=true \
              --mount volume=var-lib-kubelet,target=/var/lib/kubelet \
              --volume etc-kubernetes,kind=host,source=/etc/kubernetes \
              --mount volume=etc-kubernetes,target=/etc/kubernetes \
              --hosts-entry host --insecure-options=image --stage1-from-dir=stage1-fly.aci \
              docker://quay.io/coreos/hyperkube:{SeedUnits.ImageTag} --exec=/kubelet -- "$@"
            """);
        Container.Shell($"chmod 0755 /opt/bin/thirdparty-kubelet-wrapper && mkdir -p /etc/kubernetes {source}/pods/secret {source}/pods/orphaned && mount -t tmpfs orphaned-volume {source}/pods/orphaned");
        _host.InstallUnit(unit, """
            [Service]
            ExecStartPre=-/usr/bin/rkt rm --uuid-file=/var/run/thirdparty-kubelet.uuid
            ExecStart=/opt/bin/thirdparty-kubelet-wrapper --standin-mount=/var/lib/kubelet/pods/secret --standin-umount=/var/lib/kubelet/pods/orphaned
            ExecStop=-/usr/bin/rkt stop --uuid-file=/var/run/thirdparty-kubelet.uuid
            ExecStopPost=/usr/bin/rkt gc --mark-only
            """);
        var hostMountsBefore = _host.MountPoints();
        Assert.DoesNotContain(source, hostMountsBefore);
        var cursor = Container.JournalCursor();
        try
        {
            Assert.Equal(0, Container.Systemctl("start", unit).ExitCode);
            Assert.Equal("ok", WaitForHealthz(cursor, unit));
            var hostMounts = Container.Shell("cat /proc/1/mountinfo");
            Assert.Contains($" {source}/pods/secret ", hostMounts, StringComparison.Ordinal);
            Assert.DoesNotContain($" {source}/pods/orphaned ", hostMounts, StringComparison.Ordinal);
            Assert.DoesNotContain($" {source} ", hostMounts, StringComparison.Ordinal);
            Assert.Equal("standin\n", Container.Shell($"cat {source}/pods/secret/made-by-standin"));
            Assert.Equal("busybox\n", Container.Exec("cat", $"/proc/{_host.MainPid(unit)}/comm").StandardOutput);
        }
        finally
        {
            Container.Systemctl("stop", unit);
        }

        Assert.Equal("inactive", Container.Systemctl("is-active", unit).StandardOutput.Trim());
        Assert.Contains("exited garbage", Container.Shell("rkt list --no-legend"), StringComparison.Ordinal);

        // The kubelet's pod volume stays on the host, as under rkt; nothing of the pod itself does.
        _host.AssertNoPodMountsLeft(hostMountsBefore, $"{source}/pods/secret");
        Container.Exec("umount", $"{source}/pods/secret");
    }

    [Theory]
    [InlineData("--volume coreos-var-log,kind=host,source=/var/log", "duplicate volume name \"coreos-var-log\"")]
    [InlineData("--volume data,kind=host", "invalid value in --volume flag \"data,kind=host\"")]
    [InlineData("--mount volume=nowhere,target=/x", "dangling mount point \"/x\": volume \"nowhere\" not found")]
    [InlineData("--volume=x,kind=host,source=/tmp --frobnicate", "unknown flag: --frobnicate")]
    public void Bad_rkt_run_args_fail_with_rkts_message_and_status_2_and_start_nothing(string runArgs, string message)
    {
        _host.InstallUnit(Unit, $"""
            [Service]
            Environment=KUBELET_IMAGE_TAG=v1.5.4_coreos.0
            Environment="RKT_RUN_ARGS={runArgs}"
            ExecStart=/usr/lib/coreos/kubelet-wrapper --anonymous-auth=false --authorization-mode=Webhook --read-only-port=0
            """);
        var cursor = Container.JournalCursor();
        var podsBefore = Pods();
        var mountPointsBefore = _host.MountPoints();
        Container.Systemctl("start", Unit);

        Assert.Equal("failed", _host.WaitForState(Unit, "failed"));
        Assert.Contains(message, Container.WaitForJournal(Unit, "run:", cursor), StringComparison.Ordinal);

        // Found while parsing the flags, a command-line error: rkt exited 2 for those.
        Assert.Equal("2", Container.Systemctl("show", "-p", "ExecMainStatus", "--value", Unit).StandardOutput.Trim());
        Assert.Equal(podsBefore, Pods());
        Assert.Equal(mountPointsBefore, _host.MountPoints());
    }

    /// <summary>Every pod in every state directory of the container's store.</summary>
    private string Pods() => Container.Shell("find /var/lib/kubefly/pods -mindepth 2 -maxdepth 2 2>/dev/null | sort");

    /// <summary>Start, check, stop, start again (the ExecStartPre rm removes the first pod), check, stop.</summary>
    /// <summary>
    /// With a policy at /etc/containers/policy.json that wants cosign signatures for the kubelet's image,
    /// the seed's unit, unchanged, does not start while the image is unsigned (the journal names the
    /// image, the scope and what is missing), and starts once a signature made by openssl is attached.
    /// </summary>
    [Fact]
    public void A_policy_keeps_an_unsigned_kubelet_from_starting_and_lets_a_signed_one_run()
    {
        using var keys = new TempDirectory("kubefly-seed-keys");
        var key = Infrastructure.Trust.CosignAttachments.NewOpensslKey(keys.Path, "release");
        Container.Shell("mkdir -p /etc/containers /etc/pki/kubefly");
        Container.WriteFile("/etc/pki/kubefly/release.pub", File.ReadAllText(keys.Combine("release.pub")));
        Container.WriteFile("/etc/containers/policy.json", """
            {
              "default": [{"type": "insecureAcceptAnything"}],
              "transports": {"docker": {"quay.io/coreos/hyperkube": [{"type": "sigstoreSigned", "keyPath": "/etc/pki/kubefly/release.pub"}]}}
            }
            """);
        try
        {
            _host.InstallUnit(Unit, SeedUnits.Basic);
            var cursor = Container.JournalCursor();
            Container.Systemctl("start", Unit);
            var refused = Container.WaitForJournal(Unit, "is refused by the policy", cursor);
            Assert.True(refused.Contains("quay.io/coreos/hyperkube:v1.5.4_coreos.0 is refused by the policy /etc/containers/policy.json (transports.docker[\"quay.io/coreos/hyperkube\"])", StringComparison.Ordinal), refused);
            Assert.True(refused.Contains("needs a cosign signature, and none is attached", StringComparison.Ordinal), refused);
            Assert.NotEqual("active", Container.Systemctl("is-active", Unit).StandardOutput.Trim());
            Container.Systemctl("stop", Unit);
            Container.Systemctl("reset-failed", Unit);

            var mirrored = $"{_host.Registry.Host}/coreos/hyperkube:{SeedUnits.ImageTag}";
            var manifest = Oci.Digest.Compute(System.Text.Encoding.UTF8.GetBytes(ProgramRunner.Shell($"skopeo inspect --raw --tls-verify=false docker://{mirrored}")));
            var payload = Infrastructure.Trust.CosignAttachments.Payload($"quay.io/coreos/hyperkube:{SeedUnits.ImageTag}", manifest);
            AttachSignature(manifest, payload, Infrastructure.Trust.CosignAttachments.SignWithOpenssl(key, payload));

            cursor = Container.JournalCursor();
            var start = Container.Systemctl("start", Unit);
            Assert.True(start.ExitCode == 0, $"{start}\n{Container.Journal(Unit, cursor)}");
            Assert.Equal("ok", WaitForHealthz(cursor));
            Assert.Contains("sigstoreSigned by key file /etc/pki/kubefly/release.pub", Container.Shell("kubefly image list --fields=name,verified --no-legend"), StringComparison.Ordinal);
        }
        finally
        {
            Container.Systemctl("stop", Unit);
            Container.Shell("rm -f /etc/containers/policy.json");
        }
    }

    private void AttachSignature(Oci.Digest manifest, byte[] payload, string signature)
    {
        using var pusher = _host.Registry.CreatePusher();
        Infrastructure.Trust.CosignAttachments.AttachAsync(pusher, "coreos/hyperkube", manifest, (payload, signature)).GetAwaiter().GetResult();
    }

    private void Drive(string unitText, IReadOnlyList<Volume> userVolumes, bool savesUuid = true, bool transient = false)
    {
        _host.InstallUnit(Unit, unitText);
        var mountPointsBefore = _host.MountPoints();
        string? previousUuid = null;
        for (var round = 1; round <= 2; round++)
        {
            var cursor = Container.JournalCursor();
            var start = Container.Systemctl("start", Unit);
            Assert.True(start.ExitCode == 0, $"round {round}: {start}\n{Container.Journal(Unit, cursor)}");
            Assert.Equal("ok", WaitForHealthz(cursor));
            Assert.Equal("active", Container.Systemctl("is-active", Unit).StandardOutput.Trim());

            // kubelet-wrapper -> kubefly run (in-process) -> exec: systemd's main PID is the stand-in itself.
            var mainPid = _host.MainPid(Unit);
            Assert.Equal("busybox\n", Container.Exec("cat", $"/proc/{mainPid}/comm").StandardOutput);

            var report = Container.Shell($"cat {Report}");
            Assert.Equal($"pid={mainPid}", report.Split('\n')[0]);
            Assert.Equal(SeedUnits.KubeletFlags, Lines(report, "flag="));
            CheckVolumes(report, userVolumes);

            var journal = Container.WaitForJournal(Unit, "+ /usr/bin/rkt run ", cursor);
            Assert.Contains("+ /usr/bin/rkt run ", journal, StringComparison.Ordinal);
            Assert.Contains("docker://quay.io/coreos/hyperkube:v1.5.4_coreos.0 --exec=/kubelet -- --api-servers=http://127.0.0.1:8080 --pod-manifest-path=/etc/kubernetes/manifests", journal, StringComparison.Ordinal);

            if (savesUuid)
            {
                var uuid = Container.Shell($"cat {SeedUnits.UuidFile}").Trim();
                Assert.True(PodInStore(uuid, transient), $"pod {uuid} is not in the {(transient ? "transient " : string.Empty)}store");
                Assert.False(PodInStore(uuid, !transient), $"pod {uuid} is in the {(transient ? string.Empty : "transient ")}store too");
                if (previousUuid is not null)
                {
                    Assert.NotEqual(previousUuid, uuid);
                    Assert.Contains($"\"{previousUuid}\"", Container.WaitForJournal(Unit, $"\"{previousUuid}\"", cursor), StringComparison.Ordinal);
                    Assert.False(PodInStore(previousUuid, transient), $"ExecStartPre's rm left pod {previousUuid}");
                }

                previousUuid = uuid;
            }

            var stop = Container.Systemctl("stop", Unit);
            Assert.True(stop.ExitCode == 0, $"round {round}: {stop}\n{Container.Journal(Unit, cursor)}");
            Assert.Equal("inactive", Container.Systemctl("is-active", Unit).StandardOutput.Trim());
            Assert.True(Container.Exec("test", "-d", $"/proc/{mainPid}").ExitCode != 0, $"the stand-in (pid {mainPid}) outlived its unit");

            // /var/lib/kubelet stays a shared mount point of the host (made so by the wrapper, on purpose).
            _host.AssertNoPodMountsLeft(mountPointsBefore, "/var/lib/kubelet");
        }
    }

    /// <summary>
    /// Every system volume whose source this host has, and every user volume, is seen by the stand-in at
    /// its target, with its access, and is the host's own file (same device and inode). A system volume
    /// mounted at a user volume's target comes later on the command line and wins.
    /// </summary>
    private void CheckVolumes(string report, IReadOnlyList<Volume> userVolumes)
    {
        var seen = new Dictionary<string, (string Access, string Id)>(StringComparer.Ordinal);
        foreach (var line in Lines(report, "volume="))
        {
            var fields = line.Split(' ');
            seen[fields[0]] = (fields[1], fields.Length > 2 ? fields[2] : string.Empty);
        }

        var expected = new Dictionary<string, Volume>(StringComparer.Ordinal);
        foreach (var volume in userVolumes)
        {
            expected[volume.Target] = volume;
        }

        foreach (var volume in SystemVolumes)
        {
            Assert.True(Container.Exec("test", "-e", volume.Source).ExitCode == 0, $"the test host lacks {volume.Source}");
            expected[volume.Target] = volume;
        }

        foreach (var (target, volume) in expected)
        {
            Assert.True(seen.TryGetValue(target, out var inside), $"the stand-in does not see {target}:\n{report}");
            var hostId = Container.Shell($"stat -L -c %d:%i '{volume.Source}'").Trim();
            Assert.True(hostId == inside.Id, $"{target} inside is {inside.Id}, the host's {volume.Source} is {hostId}");
            Assert.True(inside.Access == (volume.ReadOnly ? "ro" : "rw"), $"{target} ({volume.Source}) is {inside.Access} inside, expected {(volume.ReadOnly ? "ro" : "rw")}");
        }
    }

    /// <summary>
    /// Whether the engine's store holds the pod, in any of its state directories (pods/run,
    /// pods/exited-garbage, ...), on the state disk or, for a transient pod, in /run/kubefly.
    /// </summary>
    private bool PodInStore(string uuid, bool transient = false) =>
        Container.Exec("/bin/sh", "-c", transient ? $"ls -d /run/kubefly/*/pods/*/{uuid}" : $"ls -d /var/lib/kubefly/pods/*/{uuid}").ExitCode == 0;

    private static List<string> Lines(string report, string prefix) =>
        report.Split('\n').Where(line => line.StartsWith(prefix, StringComparison.Ordinal)).Select(line => line[prefix.Length..]).ToList();

    /// <summary>The stand-in's /healthz answer; fails with the unit's journal when the unit gave up first.</summary>
    private string WaitForHealthz(string cursor, string unit = Unit)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                return client.GetStringAsync(new Uri("http://127.0.0.1:10248/healthz")).GetAwaiter().GetResult();
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                var state = Container.Systemctl("is-active", unit).StandardOutput.Trim();
                if (state is "failed" or "inactive")
                {
                    throw new Xunit.Sdk.XunitException($"{unit} is {state} before /healthz answered\n{Container.Journal(unit, cursor)}");
                }

                Thread.Sleep(100);
            }
        }
    }

    private sealed record Volume(string Source, string Target, bool ReadOnly);
}
