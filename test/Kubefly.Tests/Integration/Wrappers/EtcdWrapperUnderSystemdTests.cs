using System.Text;
using System.Text.Json;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;
using Kubefly.Tests.Infrastructure.Registry;
using Kubefly.Tests.Infrastructure.Systemd;
using Kubefly.Tests.Integration.Pods;

namespace Kubefly.Tests.Integration.Wrappers;

/// <summary>
/// The container of <see cref="EtcdWrapperUnderSystemdTests"/>: Debian's etcd packed into an image
/// with CMD ["/usr/bin/etcd"] and no ENTRYPOINT, the shape of CoreOS's etcd images, served as
/// quay.io/coreos/etcd. The wrapper ends its command line with a bare `--` (or `-- $ETCD_OPTS`), which
/// under rkt's rule adds nothing to (or appends to) that CMD.
/// </summary>
public sealed class EtcdEngineContainer : EngineContainer
{
    public const string ImageTag = "v3.4.23";

    public EtcdEngineContainer()
    {
        try
        {
            using var layout = new TempDirectory("etcd-image");
            new OciLayoutBuilder(layout.Path).AddImage(
                [TestImages.BusyboxLayer(), TestImages.EtcdLayer()],
                LayerCompression.Gzip,
                Platform.Host,
                new ContainerConfig { Cmd = ["/usr/bin/etcd"], Env = ["PATH=/usr/bin:/bin"] },
                tag: ImageTag);
            PushAsQuayImage($"oci:{layout.Path}:{ImageTag}", $"coreos/etcd:{ImageTag}");
        }
        catch
        {
            Dispose();
            throw;
        }
    }
}

/// <summary>
/// etcd-wrapper under a real systemd with the real etcd, in CoreOS's etcd-member.service pattern:
/// Type=notify, so `systemctl start` returns once etcd said READY=1 through the notify socket the
/// wrapper mounts into the pod; etcd runs as ETCD_USER and keeps its data in ETCD_DATA_DIR across a
/// stop and a start.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EtcdWrapperUnderSystemdTests : IClassFixture<EtcdEngineContainer>
{
    private const string Unit = "etcd-member.service";
    private const string UuidFile = "/var/lib/coreos/etcd-member-wrapper.uuid";
    private const string DataDir = "/srv/kubefly-test/etcd";

    private readonly EtcdEngineContainer _host;

    public EtcdWrapperUnderSystemdTests(EtcdEngineContainer host)
    {
        _host = host;
        _host.Reset(Unit);
    }

    private SystemdContainer Container => _host.Container;

    [Fact]
    public async Task Start_returns_once_etcd_is_ready_and_a_key_survives_stop_and_start()
    {
        var client = TestPorts.FreeLoopbackPort();
        var peer = TestPorts.FreeLoopbackPort();

        // CoreOS's etcd-member.service, with etcd configured through the environment (--inherit-env).
        // The data dir on the host is not /var/lib/etcd (nor its parent there yet), so the test tells
        // whether the wrapper creates it with its parents and etcd inside uses the volume at /var/lib/etcd.
        // TimeoutStartSec is 60 s instead of 0 (wait forever): a missing READY=1 fails here instead of hanging.
        // No LimitNOFILE=40000: this host's hard limit is 20000 and the container cannot raise it.
        _host.InstallUnit(Unit, $"""
            [Unit]
            Description=etcd (System Application Container)
            Wants=network-online.target network.target
            After=network-online.target

            [Service]
            Type=notify
            Restart=on-failure
            RestartSec=10s
            TimeoutStartSec=60
            Environment="ETCD_IMAGE_TAG={EtcdEngineContainer.ImageTag}"
            Environment="ETCD_NAME=kubefly-test"
            Environment="ETCD_USER=etcd"
            Environment="ETCD_DATA_DIR={DataDir}"
            Environment="ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:{client}"
            Environment="ETCD_ADVERTISE_CLIENT_URLS=http://127.0.0.1:{client}"
            Environment="ETCD_LISTEN_PEER_URLS=http://127.0.0.1:{peer}"
            Environment="ETCD_INITIAL_ADVERTISE_PEER_URLS=http://127.0.0.1:{peer}"
            Environment="ETCD_INITIAL_CLUSTER=kubefly-test=http://127.0.0.1:{peer}"
            Environment="RKT_RUN_ARGS=--uuid-file-save={UuidFile}"
            ExecStartPre=/usr/bin/mkdir --parents /var/lib/coreos
            ExecStartPre=-/usr/bin/rkt rm --uuid-file={UuidFile}
            ExecStart=/usr/lib/coreos/etcd-wrapper $ETCD_OPTS
            ExecStop=-/usr/bin/rkt stop --uuid-file={UuidFile}

            [Install]
            WantedBy=multi-user.target
            """);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{client}"), Timeout = TimeSpan.FromSeconds(10) };
        var mountPointsBefore = _host.MountPoints();
        Assert.True(Container.Exec("test", "-e", "/srv/kubefly-test").ExitCode != 0, "the test host already has /srv/kubefly-test");

        var cursor = Container.JournalCursor();
        StartAndAssertActive(cursor);

        // No waiting: Type=notify made `systemctl start` wait for etcd's READY=1.
        var put = await http.PostAsync(new Uri("/v3/kv/put", UriKind.Relative), Json(new() { ["key"] = Base64("kubefly"), ["value"] = Base64("survives") }));
        Assert.True(put.IsSuccessStatusCode, $"{put.StatusCode}: {await put.Content.ReadAsStringAsync()}\n{Container.Journal(Unit, cursor)}");

        // The wrapper created the data dir for ETCD_USER, and etcd runs as that user and writes there.
        var etcdUid = Container.Shell("id -u etcd").Trim();
        var mainPid = _host.MainPid(Unit);
        Assert.Equal("etcd\n", Container.Exec("cat", $"/proc/{mainPid}/comm").StandardOutput);
        Assert.Matches($@"(?m)^Uid:\s+{etcdUid}\s+{etcdUid}\s", Container.Shell($"cat /proc/{mainPid}/status"));
        Assert.Equal("etcd etcd\n", Container.Shell($"stat -c '%U %G' {DataDir}"));
        Assert.Equal("etcd\n", Container.Shell($"stat -c %U {DataDir}/member"));

        var journal = Container.WaitForJournal(Unit, "+ /usr/bin/rkt run ", cursor);
        Assert.Contains("--mount volume=coreos-notify,target=/run/systemd/notify --volume coreos-notify,kind=host,source=/run/systemd/notify --set-env=NOTIFY_SOCKET=/run/systemd/notify", journal, StringComparison.Ordinal);
        Assert.Contains($"--volume coreos-data-dir,kind=host,source={DataDir},readOnly=false", journal, StringComparison.Ordinal);
        Assert.Contains($"docker://quay.io/coreos/etcd:{EtcdEngineContainer.ImageTag} --user={etcdUid} --", journal, StringComparison.Ordinal);
        var firstUuid = Container.Shell($"cat {UuidFile}").Trim();

        Assert.Equal(0, Container.Systemctl("stop", Unit).ExitCode);
        Assert.Equal("inactive", Container.Systemctl("is-active", Unit).StandardOutput.Trim());
        Assert.True(Container.Exec("test", "-d", $"/proc/{mainPid}").ExitCode != 0, $"etcd (pid {mainPid}) outlived its unit");
        _host.AssertNoPodMountsLeft(mountPointsBefore);
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync(new Uri("/health", UriKind.Relative)));

        cursor = Container.JournalCursor();
        StartAndAssertActive(cursor);
        var range = await http.PostAsync(new Uri("/v3/kv/range", UriKind.Relative), Json(new() { ["key"] = Base64("kubefly") }));
        var body = await range.Content.ReadAsStringAsync();
        Assert.True(range.IsSuccessStatusCode, body);
        Assert.Contains($"\"value\":\"{Base64("survives")}\"", body, StringComparison.Ordinal);

        // The ExecStartPre rm removed the first pod.
        Assert.Contains($"\"{firstUuid}\"", Container.WaitForJournal(Unit, $"\"{firstUuid}\"", cursor), StringComparison.Ordinal);

        Assert.Equal(0, Container.Systemctl("stop", Unit).ExitCode);
        _host.AssertNoPodMountsLeft(mountPointsBefore);
    }

    /// <summary>
    /// etcd-member.service as Container Linux Config's transpiler wrote it: the stock unit, with etcd's
    /// flags in ETCD_OPTS from a drop-in. The flags follow the image's CMD (rkt's rule), so etcd gets them.
    /// </summary>
    [Fact]
    public async Task Flags_from_a_drop_in_are_appended_to_the_image_s_cmd()
    {
        var client = TestPorts.FreeLoopbackPort();
        var peer = TestPorts.FreeLoopbackPort();
        Container.Shell("mkdir -p /etc/systemd/system/etcd-member.service.d");
        Container.WriteFile("/etc/systemd/system/etcd-member.service.d/20-clct-etcd-member.conf", $"""
            [Service]
            Environment="ETCD_IMAGE_TAG={EtcdEngineContainer.ImageTag}"
            Environment="ETCD_USER=etcd"
            Environment="ETCD_DATA_DIR={DataDir}-dropin"
            Environment="ETCD_OPTS=--name=from-drop-in --listen-client-urls=http://127.0.0.1:{client} --advertise-client-urls=http://127.0.0.1:{client} --listen-peer-urls=http://127.0.0.1:{peer} --initial-advertise-peer-urls=http://127.0.0.1:{peer} --initial-cluster=from-drop-in=http://127.0.0.1:{peer}"
            """);
        _host.InstallUnit(Unit, $"""
            [Unit]
            Description=etcd (System Application Container)

            [Service]
            Type=notify
            TimeoutStartSec=60
            Environment="RKT_RUN_ARGS=--uuid-file-save={UuidFile}"
            ExecStartPre=/usr/bin/mkdir --parents /var/lib/coreos
            ExecStartPre=-/usr/bin/rkt rm --uuid-file={UuidFile}
            ExecStart=/usr/lib/coreos/etcd-wrapper $ETCD_OPTS
            ExecStop=-/usr/bin/rkt stop --uuid-file={UuidFile}
            """);
        try
        {
            var cursor = Container.JournalCursor();
            StartAndAssertActive(cursor);

            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{client}"), Timeout = TimeSpan.FromSeconds(10) };
            var members = await http.PostAsync(new Uri("/v3/cluster/member/list", UriKind.Relative), Json([]));
            Assert.Contains("\"name\":\"from-drop-in\"", await members.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            var mainPid = _host.MainPid(Unit);
            var argv = Container.Shell($"tr '\\0' ' ' < /proc/{mainPid}/cmdline");
            Assert.StartsWith("/usr/bin/etcd --name=from-drop-in ", argv, StringComparison.Ordinal);
        }
        finally
        {
            Container.Systemctl("stop", Unit);
            Container.Shell($"rm -rf /etc/systemd/system/etcd-member.service.d {DataDir}-dropin && systemctl daemon-reload");
        }
    }

    private void StartAndAssertActive(string cursor)
    {
        var start = Container.Systemctl("start", Unit);
        Assert.True(start.ExitCode == 0, $"{start}\n{Container.Journal(Unit, cursor)}");
        Assert.Equal("active", Container.Systemctl("is-active", Unit).StandardOutput.Trim());
    }

    private static StringContent Json(Dictionary<string, string> body) =>
        new(JsonSerializer.Serialize(body, EtcdJson.Default.DictionaryStringString), Encoding.UTF8, "application/json");

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
}
