using System.Text.Json;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Systemd;

namespace Kubefly.Tests.Integration.Wrappers;

/// <summary>
/// The container of <see cref="AutoUpdateUnderSystemdTests"/>: kubefly's engine under a real systemd, and
/// versions of the demo's stand-in agent (scripts/build-demo-image) in the loopback registry, built once:
/// v1 and v2 (a good release: only its version label differs), v2-minor (a new minor version), crash
/// (its /kubelet exits at once) and unhealthy (its /healthz answers 404). Each test pushes them under a
/// repository of its own and moves that repository's :stable tag, as a release does.
/// </summary>
public sealed class AutoUpdateContainer : EngineContainer
{
    public static readonly string[] Variants = ["v1", "v2", "v2-minor", "crash", "unhealthy"];

    private readonly TempDirectory _images = new("auto-update-images");

    public AutoUpdateContainer()
    {
        try
        {
            var layout = Path.Combine(_images.Path, "layout");
            ProgramRunner.Shell($"""
                set -e
                '{Path.Combine(RepositoryRoot(), "scripts", "build-demo-image")}' '{layout}' >/dev/null
                cd '{_images.Path}'
                umoci config --image layout:{SeedUnits.ImageTag} --tag v1 --config.label org.opencontainers.image.version=v1.28.3
                umoci config --image layout:v1 --tag v2 --config.label org.opencontainers.image.version=v1.28.4
                umoci config --image layout:v1 --tag v2-minor --config.label org.opencontainers.image.version=v1.29.0
                umoci unpack --image layout:v1 crash >/dev/null
                printf '#!/bin/busybox sh\necho "crashing stand-in"\nexit 3\n' > crash/rootfs/kubelet
                umoci repack --image layout:crash crash >/dev/null
                umoci unpack --image layout:v1 unhealthy >/dev/null
                rm unhealthy/rootfs/www/healthz
                umoci repack --image layout:unhealthy unhealthy >/dev/null
                rm -rf crash unhealthy
                """);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Pushes every variant as quay.io/REPOSITORY:VARIANT; returns each variant's manifest digest.</summary>
    public IReadOnlyDictionary<string, string> PushVariants(string repository)
    {
        var digests = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var variant in Variants)
        {
            PushAsQuayImage($"oci:{Path.Combine(_images.Path, "layout")}:{variant}", $"{repository}:{variant}");
            digests[variant] = ProgramRunner.Shell($"skopeo inspect --tls-verify=false --format '{{{{.Digest}}}}' 'docker://{Registry.Host}/{repository}:{variant}'").Trim();
        }

        return digests;
    }

    /// <summary>Points quay.io/REPOSITORY:stable at a variant, as a release moves its tag.</summary>
    public void MoveStable(string repository, string variant) =>
        ProgramRunner.Shell($"skopeo copy --quiet --src-tls-verify=false --dest-tls-verify=false 'docker://{Registry.Host}/{repository}:{variant}' 'docker://{Registry.Host}/{repository}:stable'");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _images.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// `kubefly auto-update` applying updates under a real systemd: the tag moves, the updater restarts the
/// unit through systemd's D-Bus API, and the health gate (job result, a main process that stays up, the
/// unit's KUBEFLY_HEALTH_URL) decides between keeping the new digest and rolling back to the old one,
/// which the store keeps. Every agent is the demo's stand-in kubelet serving /healthz on a port of its
/// own, run by `kubefly run` from a unit that opted in.
/// </summary>
[Trait("Category", "Integration")]
public sealed class AutoUpdateUnderSystemdTests : IClassFixture<AutoUpdateContainer>
{
    private readonly AutoUpdateContainer _host;

    public AutoUpdateUnderSystemdTests(AutoUpdateContainer host)
    {
        _host = host;
    }

    private SystemdContainer Container => _host.Container;

    [Fact]
    public void The_timer_s_updater_moves_a_unit_to_its_tag_s_new_digest_and_keeps_the_old_one()
    {
        var agent = Agent.Install(_host, "good", port: 10311);
        var pinned = Agent.Install(_host, "pinned", port: 10312, imageOverride: $"quay.io/kubefly-test/pinned@{agent.Digests["v2-minor"]}");
        try
        {
            agent.Start();
            pinned.Start();
            var pinnedPid = _host.MainPid(pinned.Unit);
            _host.MoveStable(agent.Repository, "v2");
            InstallUpdaterUnits("--insecure-options=image --settle=2s --metrics=/run/kubefly-metrics");
            Container.Shell("mkdir -p /run/kubefly-metrics");

            var start = Container.Systemctl("start", "kubefly-auto-update.service");

            var journal = Container.Journal("kubefly-auto-update.service");
            Assert.True(start.ExitCode == 0, $"the updater failed\n{start}\n{journal}\n{Container.Systemctl("cat", "kubefly-auto-update.service")}");
            Assert.Equal(agent.Digests["v2"], agent.RunningDigest());
            Assert.Equal("ok", agent.Health());
            Assert.Contains($"{agent.Unit}: now runs {Short(agent.Digests["v2"])}", journal, StringComparison.Ordinal);
            Assert.Equal(pinnedPid, _host.MainPid(pinned.Unit));
            var report = DryRun();
            Assert.Equal("skipped", report[pinned.Unit].GetProperty("update").GetString());
            Assert.Equal("pinned by digest", report[pinned.Unit].GetProperty("reason").GetString());

            // The old digest is what the unit would roll back to: the store keeps it until the next success.
            Container.Shell("kubefly gc --grace-period=0s >/dev/null 2>&1; kubefly gc --grace-period=0s >/dev/null 2>&1");
            var removal = Container.Exec("kubefly", "image", "rm", agent.Digests["v1"]);
            Assert.Equal(254, removal.ExitCode);
            Assert.Contains($"auto-update@{agent.Unit}", removal.StandardError, StringComparison.Ordinal);

            var metrics = Container.Shell("cat /run/kubefly-metrics/kubefly.prom");
            Assert.Contains($"kubefly_image_info{{unit=\"{agent.Unit}\",image=\"quay.io/kubefly-test/good:stable\",digest=\"{agent.Digests["v2"]}\"}} 1", metrics, StringComparison.Ordinal);
            Assert.Contains($"kubefly_update_failures_total{{unit=\"{agent.Unit}\"}} 0", metrics, StringComparison.Ordinal);
            Assert.Matches($"kubefly_update_last_success_timestamp_seconds\\{{unit=\"{agent.Unit}\"\\}} [0-9]{{10}}", metrics);
            // v2 differs from v1 in its config alone: its layers are in the store already, so what the
            // counter shows depends on what the tests before this one left there (gc may have taken the blob).
            Assert.Matches("kubefly_pull_bytes_total [0-9]+\n", metrics);

            // Nothing moved: a second run finds every unit current and changes nothing.
            var pid = _host.MainPid(agent.Unit);
            var again = Update();
            Assert.Equal(0, again.ExitCode);
            Assert.Equal("current", Parse(again.StandardOutput)[agent.Unit].GetProperty("update").GetString());
            Assert.Equal(pid, _host.MainPid(agent.Unit));
        }
        finally
        {
            agent.Remove();
            pinned.Remove();
        }
    }

    [Fact]
    public void A_release_that_crashes_under_Restart_always_is_rolled_back_and_its_dependent_started_again()
    {
        var agent = Agent.Install(_host, "crashing", port: 10321, withDependent: true);
        try
        {
            agent.Start();
            _host.MoveStable(agent.Repository, "crash");

            var result = Update();

            Assert.True(result.ExitCode == 1, result.ToString());
            var outcome = Parse(result.StandardOutput)[agent.Unit];
            Assert.Equal("rolled-back", outcome.GetProperty("update").GetString());
            Assert.Contains("did not stay up", outcome.GetProperty("reason").GetString(), StringComparison.Ordinal);
            Assert.Equal(agent.Digests["v1"], agent.RunningDigest());
            Assert.Equal("ok", agent.Health());
            Assert.Equal("active", _host.WaitForState(agent.Dependent!, "active"));
            var status = Container.Exec("kubefly", "status", outcome.GetProperty("pod").GetString()!).StandardOutput;
            Assert.Contains($"\nimage-digest={agent.Digests["v1"]}\ntag-digest={agent.Digests["v1"]}\n", status, StringComparison.Ordinal);
            Assert.Contains($"{agent.Unit}: {Short(agent.Digests["crash"])} failed its health gate", result.StandardError, StringComparison.Ordinal);

            // The digest that failed is not tried again while the tag still names it...
            var again = Update();
            Assert.Equal(0, again.ExitCode);
            var skipped = Parse(again.StandardOutput)[agent.Unit];
            Assert.Equal("skipped", skipped.GetProperty("update").GetString());
            Assert.Contains("not tried again until the tag moves", skipped.GetProperty("reason").GetString(), StringComparison.Ordinal);
            Assert.Equal(agent.Digests["v1"], agent.RunningDigest());

            // ...and once the tag moves on, the next release is applied.
            _host.MoveStable(agent.Repository, "v2");
            var fixedRelease = Update();
            Assert.True(fixedRelease.ExitCode == 0, fixedRelease.ToString());
            Assert.Equal(agent.Digests["v2"], agent.RunningDigest());
            Assert.Equal("active", _host.WaitForState(agent.Dependent!, "active"));
        }
        finally
        {
            agent.Remove();
        }
    }

    [Fact]
    public void A_release_whose_health_URL_never_answers_200_is_rolled_back()
    {
        var agent = Agent.Install(_host, "unhealthy", port: 10331, healthTimeout: "4s");
        try
        {
            agent.Start();
            _host.MoveStable(agent.Repository, "unhealthy");

            var result = Update();

            Assert.True(result.ExitCode == 1, result.ToString());
            var outcome = Parse(result.StandardOutput)[agent.Unit];
            Assert.Equal("rolled-back", outcome.GetProperty("update").GetString());
            Assert.Contains("did not answer 200 within 4s (last: HTTP 404)", outcome.GetProperty("reason").GetString(), StringComparison.Ordinal);
            Assert.Equal(agent.Digests["v1"], agent.RunningDigest());
            Assert.Equal("ok", agent.Health());
        }
        finally
        {
            agent.Remove();
        }
    }

    [Fact]
    public void A_new_minor_version_is_refused_unless_allowed()
    {
        var agent = Agent.Install(_host, "minor", port: 10341);
        try
        {
            agent.Start();
            var pid = _host.MainPid(agent.Unit);
            _host.MoveStable(agent.Repository, "v2-minor");

            var refused = Update();

            Assert.Equal(1, refused.ExitCode);
            var outcome = Parse(refused.StandardOutput)[agent.Unit];
            Assert.Equal("refused", outcome.GetProperty("update").GetString());
            Assert.Contains("changes the minor version (v1.28.3 to v1.29.0)", outcome.GetProperty("reason").GetString(), StringComparison.Ordinal);
            Assert.Equal(pid, _host.MainPid(agent.Unit));
            Assert.Equal(agent.Digests["v1"], agent.RunningDigest());

            var allowed = Update("--allow-minor");
            Assert.True(allowed.ExitCode == 0, allowed.ToString());
            Assert.Equal(agent.Digests["v2-minor"], agent.RunningDigest());
        }
        finally
        {
            agent.Remove();
        }
    }

    /// <summary>
    /// The updater killed (SIGKILL) right after each step that changes something: the unit keeps running
    /// a digest, and the next run finishes the job (the new digest passes its gate) or reverts it.
    /// </summary>
    [Theory]
    [InlineData("after-switch", "v2", "updated")]
    [InlineData("after-restart", "v2", "updated")]
    [InlineData("after-revert", "crash", "rolled-back")]
    public void An_updater_killed_at_any_step_is_finished_or_reverted_by_the_next_run(string step, string release, string finalAction)
    {
        var agent = Agent.Install(_host, $"killed-{step}", port: 10350 + Array.IndexOf(["after-switch", "after-restart", "after-revert"], step));
        try
        {
            agent.Start();
            _host.MoveStable(agent.Repository, release);

            var killed = Container.Exec(["kubefly", "auto-update", "--insecure-options=image", "--settle=2s", "--format=json"], new Dictionary<string, string> { ["KUBEFLY_TEST_KILL_AT"] = step });
            Assert.True(killed.ExitCode == 137, $"the updater was not killed at {step}\n{killed}");
            Assert.Equal("active", _host.WaitForState(agent.Unit, "active"));

            var next = Update();

            Assert.True(next.ExitCode == (finalAction == "updated" ? 0 : 1), next.ToString());
            Assert.Equal(finalAction, Parse(next.StandardOutput)[agent.Unit].GetProperty("update").GetString());
            Assert.Equal(agent.Digests[finalAction == "updated" ? release : "v1"], agent.RunningDigest());
            Assert.Equal("ok", agent.Health());
            Assert.DoesNotContain("\"journal\": {", Container.Shell("cat /var/lib/kubefly/auto-update/state.json"), StringComparison.Ordinal);
        }
        finally
        {
            agent.Remove();
        }
    }

    [Fact]
    public void An_update_the_trust_policy_refuses_is_never_applied()
    {
        var agent = Agent.Install(_host, "refused", port: 10371);
        using var keys = new TempDirectory("auto-update-key");
        try
        {
            agent.Start();
            var pid = _host.MainPid(agent.Unit);
            _host.MoveStable(agent.Repository, "v2");

            // The node's policy wants cosign signatures for this repository; the new release has none.
            ProgramRunner.Shell($"openssl ecparam -name prime256v1 -genkey -noout -out '{keys.Combine("cosign.key")}' && openssl ec -in '{keys.Combine("cosign.key")}' -pubout -out '{keys.Combine("cosign.pub")}' 2>/dev/null");
            Container.CopyIn(keys.Combine("cosign.pub"), "/etc/kubefly-test/cosign.pub");
            Container.WriteFile("/etc/containers/policy.json", """
                {"default": [{"type": "insecureAcceptAnything"}],
                 "transports": {"docker": {"quay.io/kubefly-test/refused": [{"type": "sigstoreSigned", "keyPath": "/etc/kubefly-test/cosign.pub"}]}}}
                """);

            var result = Container.Exec(["kubefly", "auto-update", "--settle=2s", "--format=json"], timeout: TimeSpan.FromMinutes(1));

            Assert.True(result.ExitCode == 1, result.ToString());
            var outcome = Parse(result.StandardOutput)[agent.Unit];
            Assert.Equal("refused", outcome.GetProperty("update").GetString());
            Assert.Contains("signature", outcome.GetProperty("reason").GetString(), StringComparison.Ordinal);
            Assert.Equal(pid, _host.MainPid(agent.Unit));
            Assert.Equal(agent.Digests["v1"], agent.RunningDigest());
            Assert.NotEqual(0, Container.Exec("test", "-e", $"/var/lib/kubefly/images/holds/auto-update@{agent.Unit}").ExitCode);
        }
        finally
        {
            Container.Exec("rm", "-rf", "/etc/containers/policy.json", "/etc/kubefly-test");
            agent.Remove();
        }
    }

    [Fact]
    public void A_dry_run_changes_nothing()
    {
        var agent = Agent.Install(_host, "dry", port: 10361);
        try
        {
            agent.Start();
            var pid = _host.MainPid(agent.Unit);
            _host.MoveStable(agent.Repository, "v2");
            var images = Container.Shell("kubefly image list --no-legend --fields=id,name");

            var report = DryRun();

            Assert.Equal("pending", report[agent.Unit].GetProperty("update").GetString());
            Assert.Equal(agent.Digests["v2"], report[agent.Unit].GetProperty("tag").GetString());
            Assert.Equal(pid, _host.MainPid(agent.Unit));
            Assert.Equal(images, Container.Shell("kubefly image list --no-legend --fields=id,name"));
            Assert.Equal(agent.Digests["v1"], agent.RunningDigest());
        }
        finally
        {
            agent.Remove();
        }
    }

    private static string Short(string digest) => digest[..("sha256:".Length + 12)];

    private ProcessResult Update(params string[] extra)
    {
        try
        {
            return Container.Exec(["kubefly", "auto-update", "--insecure-options=image", "--settle=2s", "--format=json", .. extra], timeout: TimeSpan.FromMinutes(1));
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\n--- the container's journal\n{Container.Exec("journalctl", "-b", "--no-pager", "-n", "40").StandardOutput}\n{Container.Exec("cat", "/var/lib/kubefly/auto-update/state.json").StandardOutput}", e);
        }
    }

    private Dictionary<string, JsonElement> DryRun()
    {
        var result = Container.Exec("kubefly", "auto-update", "--insecure-options=image", "--dry-run", "--format=json");
        Assert.True(result.ExitCode is 0 or 1, result.ToString());
        return Parse(result.StandardOutput);
    }

    private static Dictionary<string, JsonElement> Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateArray().Where(e => e.GetProperty("unit").ValueKind == JsonValueKind.String)
            .ToDictionary(e => e.GetProperty("unit").GetString()!, e => e.Clone(), StringComparer.Ordinal);
    }

    private void InstallUpdaterUnits(string extraFlags)
    {
        var units = Container.Shell("kubefly unit auto-update");
        var service = units[units.IndexOf("[Unit]", StringComparison.Ordinal)..units.IndexOf("# /etc/systemd/system/kubefly-auto-update.timer", StringComparison.Ordinal)];
        var timer = units[units.IndexOf("# /etc/systemd/system/kubefly-auto-update.timer", StringComparison.Ordinal)..];
        Assert.Contains("OnCalendar=daily", timer, StringComparison.Ordinal);
        Assert.Contains("RandomizedDelaySec=", timer, StringComparison.Ordinal);
        _host.InstallUnit("kubefly-auto-update.service", service.Replace("/usr/bin/kubefly", "/usr/local/bin/kubefly", StringComparison.Ordinal).Replace(" auto-update\n", $" auto-update {extraFlags}\n", StringComparison.Ordinal));
        _host.InstallUnit("kubefly-auto-update.timer", timer);
        Assert.Equal(0, Container.Systemctl("enable", "kubefly-auto-update.timer").ExitCode);
    }

    /// <summary>One opted-in unit running the stand-in agent from its own repository's :stable tag.</summary>
    private sealed class Agent
    {
        private readonly AutoUpdateContainer _host;

        private Agent(AutoUpdateContainer host, string name, int port, IReadOnlyDictionary<string, string> digests)
        {
            _host = host;
            Repository = $"kubefly-test/{name}";
            Unit = $"agent-{name}.service";
            Port = port;
            Digests = digests;
        }

        public string Repository { get; }

        public string Unit { get; }

        public int Port { get; }

        public IReadOnlyDictionary<string, string> Digests { get; }

        /// <summary>A unit that BindsTo= the agent (stopped with it, never started again by systemd alone).</summary>
        public string? Dependent { get; private init; }

        public static Agent Install(AutoUpdateContainer host, string name, int port, string? imageOverride = null, bool withDependent = false, string healthTimeout = "20s")
        {
            var digests = host.PushVariants($"kubefly-test/{name}");
            host.MoveStable($"kubefly-test/{name}", "v1");
            var agent = new Agent(host, name, port, digests) { Dependent = withDependent ? $"agent-{name}-sidecar.service" : null };
            var image = imageOverride ?? $"quay.io/kubefly-test/{name}:stable";
            host.InstallUnit(agent.Unit, $"""
                [Unit]
                Description=stand-in agent {name}
                # The tests restart it more often than systemd's default start limit allows.
                StartLimitIntervalSec=0

                [Service]
                Environment=KUBEFLY_AUTO_UPDATE=registry
                Environment=KUBEFLY_HEALTH_URL=http://127.0.0.1:{port}/healthz
                Environment=KUBEFLY_HEALTH_TIMEOUT={healthTimeout}
                ExecStart=/usr/local/bin/kubefly run --insecure-options=image {image} -- --healthz-port={port} --standin-report=
                Restart=always
                RestartSec=500ms
                """);
            if (agent.Dependent is { } dependent)
            {
                host.InstallUnit(dependent, $"""
                    [Unit]
                    Description=depends on {agent.Unit}
                    BindsTo={agent.Unit}
                    After={agent.Unit}

                    [Service]
                    ExecStart=/bin/sleep infinity
                    """);
            }

            return agent;
        }

        public void Start()
        {
            Assert.Equal(0, _host.Container.Systemctl("start", Unit).ExitCode);
            Assert.Equal("ok", Health());
            if (Dependent is not null)
            {
                Assert.Equal(0, _host.Container.Systemctl("start", Dependent).ExitCode);
            }
        }

        /// <summary>The agent's /healthz body once it answers (within 30 s), or the failure.</summary>
        public string Health()
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (true)
            {
                try
                {
                    return client.GetStringAsync(new Uri($"http://127.0.0.1:{Port}/healthz")).GetAwaiter().GetResult();
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    if (DateTime.UtcNow > deadline)
                    {
                        throw new Xunit.Sdk.XunitException($"{Unit} never answered on port {Port}: {e.Message}\n{_host.Container.Journal(Unit)}");
                    }

                    Thread.Sleep(100);
                }
            }
        }

        /// <summary>The digest the unit's running pod runs, as the updater reports it.</summary>
        public string RunningDigest()
        {
            var result = _host.Container.Exec("kubefly", "auto-update", "--insecure-options=image", "--dry-run", "--format=json");
            return Parse(result.StandardOutput)[Unit].GetProperty("running").GetString()!;
        }

        public void Remove()
        {
            foreach (var unit in Dependent is null ? [Unit] : new[] { Dependent, Unit })
            {
                _host.Container.Systemctl("stop", unit);
                _host.Container.Systemctl("reset-failed", unit);
            }
        }
    }
}
