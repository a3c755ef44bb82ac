using System.Diagnostics;
using System.Text.Json;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;
using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Integration.Pods;

/// <summary>
/// `kubefly auto-update --dry-run` through the binary: real pods from the loopback registry, each in a
/// cgroup named like a systemd service (as systemd makes one per unit), one opted in by
/// KUBEFLY_AUTO_UPDATE=registry, one pinned by digest, one not opted in; then the tag moves.
/// </summary>
[Trait("Category", "Integration")]
public sealed class AutoUpdateDryRunTests : IDisposable
{
    private readonly TempDirectory _state = new("kubefly-autoupdate");
    private readonly DockerRegistryServer _registry = DockerRegistryServer.StartPlain();
    private readonly List<(Process Process, string UuidFile, string Cgroup)> _pods = [];

    public void Dispose()
    {
        foreach (var (process, uuidFile, cgroup) in _pods)
        {
            KubeflyProcess.Run(["--dir", _state.Path, "stop", "--force", $"--uuid-file={uuidFile}"]);
            process.WaitForExit(10_000);
            process.Dispose();
            Wait.Until(() => File.ReadAllText(Path.Combine(cgroup, "cgroup.procs")).Length == 0, TimeSpan.FromSeconds(10), $"{cgroup} to empty");
            Directory.Delete(cgroup);
        }

        _registry.Dispose();
        _state.Dispose();
    }

    [Fact]
    public void Dry_run_reports_pending_current_skipped_and_refused_and_changes_nothing()
    {
        var tagged = $"{_registry.Host}/test/agent:v1";
        ProgramRunner.Shell($"skopeo copy --quiet --dest-tls-verify=false 'oci:{TestImages.Layout}:{TestImages.Busybox}' 'docker://{tagged}'");
        var pinned = $"{_registry.Host}/test/agent@{Fetch(tagged)}";

        StartPod("kubefly-test-agent", tagged, optIn: true);
        StartPod("kubefly-test-pinned", pinned, optIn: true);
        StartPod("kubefly-test-plain", tagged, optIn: false);

        var before = Report();
        Assert.Equal(2, before.Count);
        Assert.Equal("current", Single(before, "kubefly-test-agent").GetProperty("update").GetString());
        Assert.Equal("skipped", Single(before, "kubefly-test-pinned").GetProperty("update").GetString());
        Assert.Equal("pinned by digest", Single(before, "kubefly-test-pinned").GetProperty("reason").GetString());

        using (var pusher = new RegistryPusher(_registry.Host))
        {
            PushAnotherImage(pusher);
        }

        var storeBefore = Directory.GetFiles(_state.Combine("images"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        var after = Report();
        var agent = Single(after, "kubefly-test-agent");
        Assert.Equal("pending", agent.GetProperty("update").GetString());
        Assert.NotEqual(agent.GetProperty("running").GetString(), agent.GetProperty("tag").GetString());
        Assert.Equal(tagged, agent.GetProperty("image").GetString());
        Assert.Equal(storeBefore, Directory.GetFiles(_state.Combine("images"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList());

        var table = KubeflyProcess.Run(["--dir", _state.Path, "--insecure-options=http", "auto-update", "--dry-run"]);
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Matches(@"kubefly-test-agent-[0-9a-f]{8}\.service\s+\S+/test/agent:v1\s+sha256:[0-9a-f]{12}\s+sha256:[0-9a-f]{12}\s+pending", table.StandardOutput);
        Assert.Contains("skipped (pinned by digest)", table.StandardOutput, StringComparison.Ordinal);

        // A policy that wants cosign signatures for this registry: the moved tag is refused, never pending.
        ProgramRunner.Shell($"openssl ecparam -genkey -name prime256v1 -noout -out '{_state.Combine("key.pem")}' && openssl ec -in '{_state.Combine("key.pem")}' -pubout -out '{_state.Combine("key.pub")}' 2>/dev/null");
        var requirement = $"[{{\"type\": \"sigstoreSigned\", \"keyPath\": \"{_state.Combine("key.pub")}\"}}]";
        File.WriteAllText(_state.Combine("policy.json"), "{\"default\": [{\"type\": \"insecureAcceptAnything\"}], \"transports\": {\"docker\": {\"" + _registry.Host + "\": " + requirement + "}}}");
        var refused = KubeflyProcess.Run(["--dir", _state.Path, "--insecure-options=http", $"--policy={_state.Combine("policy.json")}", "auto-update", "--dry-run", "--format=json"]);
        Assert.True(refused.ExitCode == 1, refused.ToString());
        var refusedAgent = JsonDocument.Parse(refused.StandardOutput).RootElement.EnumerateArray().Single(e => e.GetProperty("unit").GetString()!.StartsWith("kubefly-test-agent-", StringComparison.Ordinal));
        Assert.Equal("refused", refusedAgent.GetProperty("update").GetString());
        Assert.Contains("signature", refusedAgent.GetProperty("reason").GetString(), StringComparison.Ordinal);

        var status = KubeflyProcess.Run(["--dir", _state.Path, "status", $"--uuid-file={_pods[0].UuidFile}"]);
        Assert.Contains($"\nimage-digest={agent.GetProperty("running").GetString()}\n", status.StandardOutput, StringComparison.Ordinal);

        // The report moved no local tag: what a restart would run is still what runs.
        Assert.Contains($"\ntag-digest={agent.GetProperty("running").GetString()}\n", status.StandardOutput, StringComparison.Ordinal);
        Assert.Matches(@"\nunit=kubefly-test-agent-[0-9a-f]{8}\.service\n", status.StandardOutput);

        // Applying needs systemd's bus, which this host has not (the nspawn tests apply updates): a clear
        // refusal, and nothing in the store or the pods changed.
        // No time columns: "0 seconds ago" becomes "1 seconds ago" when the listings straddle a second.
        string[] listing = ["--dir", _state.Path, "image", "list", "--no-legend", "--full", "--fields=id,name,size,verified"];
        var images = KubeflyProcess.Run(listing).StandardOutput;
        Assert.Contains(agent.GetProperty("running").GetString()!, images, StringComparison.Ordinal);
        var applied = KubeflyProcess.Run(["--dir", _state.Path, "--insecure-options=http", "auto-update"], new Dictionary<string, string?> { ["DBUS_SYSTEM_BUS_ADDRESS"] = $"unix:path={_state.Combine("no-bus")}" });
        Assert.Equal(254, applied.ExitCode);
        Assert.Contains($"cannot reach systemd on the system bus (unix:path={_state.Combine("no-bus")})", applied.StandardError, StringComparison.Ordinal);
        Assert.DoesNotMatch(UserFacingText.NotKubeflysWords(), applied.StandardError);
        Assert.Equal(images, KubeflyProcess.Run(listing).StandardOutput);
    }

    private string Fetch(string image)
    {
        var fetched = KubeflyProcess.Run(["--dir", _state.Path, "--insecure-options=image,http", "fetch", "--quiet", image]);
        Assert.True(fetched.ExitCode == 0, fetched.ToString());
        return fetched.StandardOutput.Trim();
    }

    private static void PushAnotherImage(RegistryPusher pusher) =>
        pusher.PushRandomImageAsync("test/agent", "v1", layerCount: 1, layerSize: 1024).GetAwaiter().GetResult();

    private static JsonElement Single(List<JsonElement> report, string unit) =>
        report.Single(e => e.GetProperty("unit").GetString()!.StartsWith($"{unit}-", StringComparison.Ordinal));

    private List<JsonElement> Report()
    {
        var result = KubeflyProcess.Run(["--dir", _state.Path, "--insecure-options=http", "auto-update", "--dry-run", "--format=json"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return [.. JsonDocument.Parse(result.StandardOutput).RootElement.EnumerateArray()];
    }

    /// <summary>Where systemd keeps its units' cgroups: the unified hierarchy, or a hybrid host's name=systemd one.</summary>
    private static string SystemdHierarchy() =>
        File.Exists("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup"
        : Directory.Exists("/sys/fs/cgroup/systemd") ? "/sys/fs/cgroup/systemd"
        : throw new InvalidOperationException("neither a unified cgroup hierarchy nor a name=systemd one is mounted");

    /// <summary>A pod whose kubefly starts inside a fresh cgroup named NAME.service, as systemd would run it.</summary>
    private void StartPod(string name, string image, bool optIn)
    {
        var cgroup = $"{SystemdHierarchy()}/{name}-{Guid.NewGuid():N}"[..^24] + ".service";
        Directory.CreateDirectory(cgroup);
        var uuidFile = _state.Combine($"{name}.uuid");
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            "-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", cgroup,
            KubeflyProcess.BinaryPath, "--dir", _state.Path, "--insecure-options=image,http", "run", $"--uuid-file-save={uuidFile}", image, "--exec=/bin/sleep", "--", "600",
        })
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["KUBEFLY_AUTO_UPDATE"] = optIn ? "registry" : null;
        var process = Process.Start(info)!;
        _pods.Add((process, uuidFile, cgroup));
        Wait.Until(
            () => File.Exists(uuidFile) && KubeflyProcess.Run(["--dir", _state.Path, "status", $"--uuid-file={uuidFile}"]).StandardOutput.Contains("state=running", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60),
            $"pod {name} to run");
    }
}
