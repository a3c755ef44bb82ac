using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Registry;
using Kubefly.Tests.Infrastructure.Systemd;

namespace Kubefly.Tests.Integration.Wrappers;

/// <summary>The container of <see cref="SeedUnitsWithTheEngineTests"/>: /usr/bin/rkt is kubefly.</summary>
public sealed class EngineContainer : WrapperContainer
{
    public EngineContainer()
        : base(realEngine: true)
    {
    }
}

/// <summary>
/// The seed's units end to end: real systemd, kubefly as kubelet-wrapper handing off in-process to
/// kubefly's own engine (run, fly stage, image store), the demo image (scripts/build-demo-image)
/// served by the Debian docker-registry on 127.0.0.1. Written before the engine landed: main enables
/// them after merging the pods, fly and image branches by deleting the Skip.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SeedUnitsWithTheEngineTests : IClassFixture<EngineContainer>
{
    private const string Unit = "kubelet.service";
    private const string Tag = "v1.5.4_coreos.0";

    private readonly EngineContainer _host;

    public SeedUnitsWithTheEngineTests(EngineContainer host)
    {
        _host = host;
        _host.Reset(Unit);
    }

    private SystemdContainer Container => _host.Container;

    [Fact]
    public void Seed_unit_runs_the_stand_in_kubelet_as_the_units_main_process()
    {
        using var registry = DockerRegistryServer.StartPlain();
        var image = PushDemoImage(registry);

        _host.InstallUnit(Unit, $"""
            [Service]
            Environment=KUBELET_IMAGE_TAG={Tag}
            Environment=KUBELET_IMAGE_URL=docker://{image}
            Environment="RKT_RUN_ARGS=--insecure-options=image,http \
              --uuid-file-save=/var/run/kubelet-pod.uuid"
            ExecStartPre=-/usr/bin/rkt rm --uuid-file=/var/run/kubelet-pod.uuid
            ExecStart=/usr/lib/coreos/kubelet-wrapper \
              --api-servers=http://127.0.0.1:8080 \
              --pod-manifest-path=/etc/kubernetes/manifests \
              --standin-report=/var/lib/kubelet/standin-report \
              --standin-mount=/var/lib/kubelet/standin-tmpfs
            ExecStop=-/usr/bin/rkt stop --uuid-file=/var/run/kubelet-pod.uuid
            """);
        var start = Container.Systemctl("start", Unit);
        Assert.True(start.ExitCode == 0, $"{start}\n{_host.Journal(Unit)}");

        // The container shares the host's network: the stand-in's health endpoint answers here.
        Assert.Equal("ok", WaitForHealthz());

        // kubelet-wrapper -> kubefly run (in-process) -> exec: systemd's main PID is the app itself.
        var mainPid = _host.MainPid(Unit);
        Assert.Equal("busybox\n", Container.Exec("cat", $"/proc/{mainPid}/comm").StandardOutput);

        var report = Container.Shell("cat /var/lib/kubelet/standin-report");
        Assert.Contains("flag=--api-servers=http://127.0.0.1:8080", report, StringComparison.Ordinal);
        Assert.Contains(" /var/lib/kubelet ", report, StringComparison.Ordinal);
        Assert.Contains(" /etc/kubernetes ", report, StringComparison.Ordinal);

        // rshared: the tmpfs the app mounted under /var/lib/kubelet reached the (container's) host.
        Assert.Contains(" /var/lib/kubelet/standin-tmpfs ", Container.Shell("cat /proc/1/mountinfo"), StringComparison.Ordinal);

        var uuid = Container.Shell("cat /var/run/kubelet-pod.uuid");
        Assert.Equal(0, Container.Systemctl("stop", Unit).ExitCode);
        Assert.Equal("inactive", Container.Systemctl("is-active", Unit).StandardOutput.Trim());

        // The next start removes the exited pod through ExecStartPre before running a new one.
        Assert.Equal(0, Container.Systemctl("start", Unit).ExitCode);
        Assert.Equal("ok", WaitForHealthz());
        Assert.Contains($"\"{uuid}\"", _host.WaitForJournal(Unit, $"\"{uuid}\""), StringComparison.Ordinal);
        Assert.NotEqual(uuid, Container.Shell("cat /var/run/kubelet-pod.uuid"));
        Assert.Equal(0, Container.Systemctl("stop", Unit).ExitCode);
    }

    [Fact]
    public void A_user_volume_named_like_a_system_volume_is_rkts_duplicate_volume_error()
    {
        using var registry = DockerRegistryServer.StartPlain();
        var image = PushDemoImage(registry);

        _host.InstallUnit(Unit, $"""
            [Service]
            Environment=KUBELET_IMAGE=docker://{image}:{Tag}
            Environment="RKT_RUN_ARGS=--insecure-options=image,http --volume coreos-var-log,kind=host,source=/var/log"
            ExecStart=/usr/lib/coreos/kubelet-wrapper --anonymous-auth=false --authorization-mode=Webhook --read-only-port=0
            """);
        Container.Systemctl("start", Unit);

        Assert.Equal("failed", _host.WaitForState(Unit, "failed"));
        Assert.Contains("coreos-var-log", _host.WaitForJournal(Unit, "duplicate"), StringComparison.Ordinal);
        // A duplicate volume is a command-line error, found while parsing the flags: rkt exited 2 for those.
        Assert.Equal("2", Container.Systemctl("show", "-p", "ExecMainStatus", "--value", Unit).StandardOutput.Trim());
    }

    /// <summary>The stand-in's /healthz answer; fails with the unit's journal when the unit gave up first.</summary>
    private string WaitForHealthz()
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
                var state = Container.Systemctl("is-active", Unit).StandardOutput.Trim();
                if (state is "failed" or "inactive")
                {
                    throw new Xunit.Sdk.XunitException($"{Unit} is {state} before /healthz answered\n{_host.Journal(Unit)}");
                }

                Thread.Sleep(100);
            }
        }
    }

    /// <summary>Builds the demo image (scripts/build-demo-image) and pushes it; returns "127.0.0.1:PORT/coreos/hyperkube".</summary>
    private static string PushDemoImage(DockerRegistryServer registry)
    {
        var repository = $"{registry.Host}/coreos/hyperkube";
        using var layout = new TempDirectory("demo-image");
        var script = Path.Combine(RepositoryRoot(), "scripts", "build-demo-image");
        ProgramRunner.Shell($"'{script}' '{layout.Path}/layout' 'docker://{repository}'");
        return repository;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "kubefly.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("repository root (kubefly.slnx) not found");
    }
}
