using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;
using Kubefly.Tests.Infrastructure.Systemd;

namespace Kubefly.Tests.Integration.Wrappers;

/// <summary>
/// The container of <see cref="FlannelWrapperUnderSystemdTests"/>: the busybox probe image, whose
/// entrypoint /opt/bin/flanneld (where CoreOS's flannel image had flanneld) reports what it sees, served
/// as quay.io/coreos/flannel; and the host files a node has (CA certificates, /etc/hosts, which the
/// minbase rootfs lacks, and etcd's TLS dir).
/// </summary>
public sealed class FlannelEngineContainer : EngineContainer
{
    public const string ImageTag = "v0.6.2";
    public const string ProbeReport = "/run/flannel/probe-report";

    // argv, uid, environment, network namespace, the notify socket, and every mount point it sees
    // (as the stand-in kubelet checks them: access by a write probe that changes nothing, device:inode).
    private const string Probe = """
        #!/bin/sh
        {
          echo "pid=$$"
          echo "argv0=$0"
          for arg in "$@"; do echo "arg=$arg"; done
          echo "uid=$(id -u)"
          echo "netns=$(readlink /proc/self/ns/net)"
          if [ -S /run/systemd/notify ]; then echo "notify-socket=/run/systemd/notify"; fi
          env | sed 's/^/env=/'
          sed 's/^/mountinfo=/' /proc/self/mountinfo
          while read -r _ _ _ _ target _; do
            case "$target" in /|/proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
            if [ -d "$target" ]; then
              if (: >"$target/.probe-$$") 2>/dev/null; then rm -f "$target/.probe-$$"; access=rw; else access=ro; fi
            elif [ -f "$target" ]; then
              if (: >>"$target") 2>/dev/null; then access=rw; else access=ro; fi
            else
              access=other
            fi
            echo "volume=$target $access $(stat -c %d:%i "$target")"
          done </proc/self/mountinfo
        } >/run/flannel/probe-report.tmp
        busybox mv /run/flannel/probe-report.tmp /run/flannel/probe-report
        exec /opt/bin/sd-ready /bin/sleep 1000
        """;

    // READY=1 to $NOTIFY_SOCKET from the main process itself (NotifyAccess=main), then exec the rest:
    // busybox has no sd_notify. Built static, for an image without libc.
    private const string ReadyNotifier = """
        #include <stdlib.h>
        #include <string.h>
        #include <sys/socket.h>
        #include <sys/un.h>
        #include <unistd.h>

        int main(int argc, char **argv) {
            const char *path = getenv("NOTIFY_SOCKET");
            if (path == NULL || argc < 2) return 2;
            struct sockaddr_un address = { .sun_family = AF_UNIX };
            strncpy(address.sun_path, path, sizeof address.sun_path - 1);
            int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            static const char ready[] = "READY=1";
            if (fd < 0 || sendto(fd, ready, sizeof ready - 1, 0, (struct sockaddr *)&address, sizeof address) < 0) return 1;
            close(fd);
            execv(argv[1], argv + 1);
            return 127;
        }
        """;

    public FlannelEngineContainer()
    {
        try
        {
            using var layout = new TempDirectory("flannel-probe-image");
            File.WriteAllText(layout.Combine("sd-ready.c"), ReadyNotifier);
            ProgramRunner.Shell($"gcc -static -Os -o '{layout.Combine("sd-ready")}' '{layout.Combine("sd-ready.c")}'");
            var probe = new TarBuilder()
                .Dir("opt/").Dir("opt/bin/")
                .HostFile("opt/bin/sd-ready", layout.Combine("sd-ready"), 0b111_101_101)
                .File("opt/bin/flanneld", Probe, 0b111_101_101)
                .File("opt/bin/flanneld-probe", Probe, 0b111_101_101)
                .Dir("run/").Dir("run/flannel/")
                .Build();
            new OciLayoutBuilder(layout.Combine("layout")).AddImage(
                [TestImages.BusyboxLayer(), probe],
                LayerCompression.Gzip,
                Platform.Host,
                new ContainerConfig { Entrypoint = ["/opt/bin/flanneld"], Env = ["PATH=/bin"] },
                tag: ImageTag);
            PushAsQuayImage($"oci:{layout.Combine("layout")}:{ImageTag}", $"coreos/flannel:{ImageTag}");
            Container.Shell("""
                mkdir -p /etc/ssl/certs /usr/share/ca-certificates /etc/ssl/etcd
                [ -e /etc/hosts ] || printf '127.0.0.1 localhost\n' > /etc/hosts
                echo 'a CA bundle' > /etc/ssl/certs/ca-certificates.crt
                echo 'etcd client key' > /etc/ssl/etcd/client.key
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
/// flannel-wrapper under a real systemd, in CoreOS's flanneld.service pattern (Type=notify: the probe
/// says READY=1 through the socket the wrapper binds in, after writing its report), with the probe image
/// in flannel's place: its variables (FLANNEL_IMAGE_TAG/URL/ARGS and the deprecated FLANNEL_VER/FLANNEL_IMG,
/// ETCD_SSL_DIR, FLANNEL_OPTS, the options.env EnvironmentFile through --inherit-env), its volumes and
/// their access, --net=host and the notify socket, all as the app sees them.
/// </summary>
[Trait("Category", "Integration")]
public sealed class FlannelWrapperUnderSystemdTests : IClassFixture<FlannelEngineContainer>
{
    private const string Unit = "flanneld.service";
    private const string UuidFile = "/var/lib/coreos/flannel-wrapper.uuid";

    private readonly FlannelEngineContainer _host;

    public FlannelWrapperUnderSystemdTests(FlannelEngineContainer host)
    {
        _host = host;
        _host.Reset(Unit);
        _host.Container.Shell($"rm -f {FlannelEngineContainer.ProbeReport} /run/flannel/options.env");
    }

    private SystemdContainer Container => _host.Container;

    // CoreOS's flanneld.service; TimeoutStartSec is 60 s instead of 300, and no Restart=always, so a
    // probe that never says READY=1 fails the start here instead of being restarted.
    private static string UnitText(string environment) => $"""
        [Unit]
        Description=flannel (probe image)

        [Service]
        Type=notify
        TimeoutStartSec=60
        {environment}
        Environment="RKT_RUN_ARGS=--uuid-file-save={UuidFile}"
        EnvironmentFile=-/run/flannel/options.env
        ExecStartPre=/usr/bin/mkdir --parents /var/lib/coreos /run/flannel
        ExecStartPre=-/usr/bin/rkt rm --uuid-file={UuidFile}
        ExecStart=/usr/lib/coreos/flannel-wrapper $FLANNEL_OPTS
        ExecStop=-/usr/bin/rkt stop --uuid-file={UuidFile}
        """;

    [Fact]
    public void The_app_sees_flannels_volumes_options_and_environment()
    {
        _host.InstallUnit(Unit, UnitText($"""
            Environment="FLANNEL_IMAGE_TAG={FlannelEngineContainer.ImageTag}"
            Environment="FLANNEL_OPTS=--etcd-endpoints=http://127.0.0.1:2379 --ip-masq=true"
            """));
        Container.Shell("mkdir -p /run/flannel && printf 'FLANNELD_IFACE=lo\\nFLANNELD_SUBNET_FILE=/run/flannel/subnet.env\\n' > /run/flannel/options.env");
        var mountPointsBefore = _host.MountPoints();
        var cursor = Container.JournalCursor();

        var report = StartAndReadReport(cursor);

        Assert.Equal("/opt/bin/flanneld", Value(report, "argv0"));
        Assert.Equal(["--etcd-endpoints=http://127.0.0.1:2379", "--ip-masq=true"], Values(report, "arg"));
        Assert.Equal("0", Value(report, "uid"));

        // --inherit-env: the unit's environment and options.env reach flanneld; the notify socket is bound in.
        var environment = Values(report, "env");
        Assert.Contains("FLANNELD_IFACE=lo", environment);
        Assert.Contains("FLANNELD_SUBNET_FILE=/run/flannel/subnet.env", environment);
        Assert.Contains($"FLANNEL_IMAGE_TAG={FlannelEngineContainer.ImageTag}", environment);
        Assert.Contains("NOTIFY_SOCKET=/run/systemd/notify", environment);
        Assert.Equal("/run/systemd/notify", Value(report, "notify-socket"));

        // --net=host: the host's network namespace.
        Assert.Equal(Container.Shell("readlink /proc/1/ns/net").Trim(), Value(report, "netns"));

        CheckVolumes(report, new Dictionary<string, (string Source, string Access)>(StringComparer.Ordinal)
        {
            ["/run/flannel"] = ("/run/flannel", "rw"),
            ["/etc/ssl/certs"] = ("/etc/ssl/certs", "ro"),
            ["/usr/share/ca-certificates"] = ("/usr/share/ca-certificates", "ro"),
            ["/etc/hosts"] = ("/etc/hosts", "ro"),
            ["/etc/resolv.conf"] = ("/etc/resolv.conf", "ro"),
            ["/etc/ssl/etcd"] = ("/etc/ssl/etcd", "ro"),
            ["/run/systemd/notify"] = ("/run/systemd/notify", "other"),
        });

        var journal = Container.WaitForJournal(Unit, "+ /usr/bin/rkt run ", cursor);
        Assert.Contains(
            "--net=host --volume coreos-run-flannel,kind=host,source=/run/flannel,readOnly=false",
            journal,
            StringComparison.Ordinal);
        Assert.Contains(
            $"--inherit-env --stage1-from-dir=stage1-fly.aci docker://quay.io/coreos/flannel:{FlannelEngineContainer.ImageTag} -- --etcd-endpoints=http://127.0.0.1:2379 --ip-masq=true",
            journal,
            StringComparison.Ordinal);

        StopAndCheckNothingLeft(mountPointsBefore);
    }

    [Fact]
    public void Deprecated_variables_still_work_and_a_missing_etcd_ssl_dir_is_not_mounted()
    {
        _host.InstallUnit(Unit, UnitText($"""
            Environment="FLANNEL_VER={FlannelEngineContainer.ImageTag}"
            Environment="FLANNEL_IMG=docker://quay.io/coreos/flannel"
            Environment="FLANNEL_IMAGE_ARGS=--exec=/opt/bin/flanneld-probe"
            Environment="ETCD_SSL_DIR=/etc/ssl/no-etcd-here"
            """));
        var mountPointsBefore = _host.MountPoints();
        var cursor = Container.JournalCursor();

        var report = StartAndReadReport(cursor);

        Assert.Equal("/opt/bin/flanneld-probe", Value(report, "argv0"));
        Assert.Empty(Values(report, "arg"));
        Assert.DoesNotContain(Values(report, "volume"), line => line.StartsWith("/etc/ssl/no-etcd-here ", StringComparison.Ordinal) || line.StartsWith("/etc/ssl/etcd ", StringComparison.Ordinal));
        Assert.Contains("/run/flannel rw", string.Join('\n', Values(report, "volume")), StringComparison.Ordinal);

        var journal = Container.WaitForJournal(Unit, "+ /usr/bin/rkt run ", cursor);
        Assert.Contains("FLANNEL_VER environment variable is deprecated, please use FLANNEL_IMAGE_TAG instead", journal, StringComparison.Ordinal);
        Assert.Contains("FLANNEL_IMG environment variable is deprecated, please use FLANNEL_IMAGE_URL instead", journal, StringComparison.Ordinal);
        Assert.Contains($"docker://quay.io/coreos/flannel:{FlannelEngineContainer.ImageTag} --exec=/opt/bin/flanneld-probe --", journal, StringComparison.Ordinal);

        StopAndCheckNothingLeft(mountPointsBefore);
    }

    /// <summary>Starts the unit; Type=notify, so it is active and the probe's report is there when start returns.</summary>
    private string StartAndReadReport(string cursor)
    {
        var start = Container.Systemctl("start", Unit);
        Assert.True(start.ExitCode == 0, $"{start}\n{Container.Journal(Unit, cursor)}");
        Assert.Equal("active", Container.Systemctl("is-active", Unit).StandardOutput.Trim());
        var report = Container.Shell($"cat {FlannelEngineContainer.ProbeReport}");

        // The probe is the unit's main process (exec'd in the wrapper's place), and this is its report.
        Assert.Equal($"pid={_host.MainPid(Unit)}", report.Split('\n')[0]);
        Assert.Equal("sleep\n", Container.Exec("cat", $"/proc/{_host.MainPid(Unit)}/comm").StandardOutput);
        return report;
    }

    private void StopAndCheckNothingLeft(IReadOnlyCollection<string> mountPointsBefore)
    {
        var stop = Container.Systemctl("stop", Unit);
        Assert.Equal(0, stop.ExitCode);
        Assert.Equal("inactive", Container.Systemctl("is-active", Unit).StandardOutput.Trim());
        _host.AssertNoPodMountsLeft(mountPointsBefore);
    }

    private void CheckVolumes(string report, Dictionary<string, (string Source, string Access)> expected)
    {
        var seen = new Dictionary<string, (string Access, string Id)>(StringComparer.Ordinal);
        foreach (var line in Values(report, "volume"))
        {
            var fields = line.Split(' ');
            seen[fields[0]] = (fields[1], fields.Length > 2 ? fields[2] : string.Empty);
        }

        foreach (var (target, (source, access)) in expected)
        {
            Assert.True(seen.TryGetValue(target, out var inside), $"the probe does not see {target}:\n{report}\n{Container.Journal(Unit)}");
            Assert.True(inside.Access == access, $"{target} is {inside.Access} inside, expected {access}");
            var hostId = Container.Shell($"stat -L -c %d:%i '{source}'").Trim();
            Assert.True(hostId == inside.Id, $"{target} inside is {inside.Id}, the host's {source} is {hostId}");
        }
    }

    private static List<string> Values(string report, string key) =>
        report.Split('\n').Where(line => line.StartsWith(key + "=", StringComparison.Ordinal)).Select(line => line[(key.Length + 1)..]).ToList();

    private static string? Value(string report, string key) => Values(report, key).SingleOrDefault();
}
