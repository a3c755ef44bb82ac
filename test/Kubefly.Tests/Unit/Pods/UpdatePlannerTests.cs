using Kubefly.Linux;
using Kubefly.Oci;
using Kubefly.Pods;
using Kubefly.Pods.Updates;
using Kubefly.Wrappers;

namespace Kubefly.Tests.Unit.Pods;

/// <summary>The dry-run half of auto-update: who opted in, and what their tags name now.</summary>
public sealed class UpdatePlannerTests
{
    private static readonly string Running = Digest.Compute("v1"u8).ToString();
    private static readonly Digest Moved = Digest.Compute("v2"u8);

    [Fact]
    public async Task Each_opted_in_pod_is_current_pending_or_skipped_and_one_failure_stops_no_other()
    {
        var pods = new[]
        {
            ("current", Record("quay.io/coreos/etcd:v3.5", "etcd-member.service")),
            ("pending", Record("quay.io/coreos/hyperkube:v1.29", "kubelet.service")),
            ("pinned", Record($"quay.io/coreos/flannel@{Moved}", "flanneld.service")),
            ("layout", Record("oci:/srv/layout:v1", "local.service")),
            ("shell", Record("quay.io/coreos/etcd:v3.5", unit: null)),
            ("unreachable", Record("down.example:5000/app:v1", "app.service")),
            ("unsigned", Record("quay.io/unsigned/app:v2", "unsigned.service")),
            ("not-opted-in", Record("quay.io/coreos/etcd:v3.5", "other.service") with { AutoUpdate = null }),
        };

        var plan = await UpdatePlanner.PlanAsync(pods, Resolve, CancellationToken.None);

        Assert.Equal(
            ["current current", "pending pending", "pinned skipped", "layout skipped", "shell skipped", "unreachable failed", "unsigned refused"],
            plan.Select(c => $"{c.Pod} {c.ActionName}"));
        Assert.Equal(Moved.ToString(), plan.Single(c => c.Pod == "pending").TagDigest);
        Assert.Equal("pinned by digest", plan.Single(c => c.Pod == "pinned").Reason);
        Assert.Equal("not a registry image", plan.Single(c => c.Pod == "layout").Reason);
        Assert.StartsWith("not started by a systemd service", plan.Single(c => c.Pod == "shell").Reason, StringComparison.Ordinal);
        Assert.Contains("down.example:5000", plan.Single(c => c.Pod == "unreachable").Reason, StringComparison.Ordinal);
        Assert.Equal("needs a cosign signature", plan.Single(c => c.Pod == "unsigned").Reason);
        Assert.Equal(Moved.ToString(), plan.Single(c => c.Pod == "unsigned").TagDigest);
    }

    [Theory]
    [InlineData("registry", "registry")]
    [InlineData("Registry", null)]
    [InlineData("local", null)]
    [InlineData("", null)]
    public void Only_registry_opts_in_and_a_typo_never_fails_the_start(string value, string? expected) =>
        Assert.Equal(expected, PodRunner.AutoUpdatePolicy(new Dictionary<string, string> { [PodRunner.AutoUpdateVariable] = value }));

    [Theory]
    [InlineData("0::/system.slice/kubelet.service\n", "kubelet.service")]
    [InlineData("0::/system.slice/kubelet.service/payload\n", "kubelet.service")]
    [InlineData("0::/system.slice/system-getty.slice/getty@tty1.service\n", "getty@tty1.service")]
    [InlineData("12:memory:/system.slice/etcd.service\n1:name=systemd:/system.slice/etcd-member.service\n0::/\n", "etcd-member.service")]
    [InlineData("12:memory:/x\n1:name=systemd:/system.slice/etcd-member.service\n", "etcd-member.service")]
    [InlineData("0::/user.slice/user-0.slice/session-3.scope\n", null)]
    [InlineData("0::/.service\n", null)]
    [InlineData("", null)]
    public void The_unit_is_the_innermost_service_of_the_cgroup_path(string cgroup, string? unit) =>
        Assert.Equal(unit, SystemdUnit.FromCgroupFile(cgroup));

    [Fact]
    public void A_unit_written_with_auto_update_opts_in()
    {
        var with = UnitFile.Render(WrapperProfiles.Kubelet, new UnitRequest(null, "v1.29.0", [], AutoUpdate: true));
        var without = UnitFile.Render(WrapperProfiles.Kubelet, new UnitRequest(null, "v1.29.0", []));

        Assert.Contains("\nEnvironment=KUBEFLY_AUTO_UPDATE=registry\n", with, StringComparison.Ordinal);
        Assert.DoesNotContain("KUBEFLY_AUTO_UPDATE", without, StringComparison.Ordinal);
    }

    private static Task<TagState> Resolve(ImageReference reference, string running, CancellationToken cancellationToken) => reference.Original switch
    {
        var r when r.Contains("etcd", StringComparison.Ordinal) => Task.FromResult(new TagState(Digest.Parse(running))),
        var r when r.Contains("down.example", StringComparison.Ordinal) => throw new ImageException("registry down.example:5000: connection refused"),
        var r when r.Contains("unsigned", StringComparison.Ordinal) => Task.FromResult(new TagState(Moved, "needs a cosign signature")),
        _ => Task.FromResult(new TagState(Moved)),
    };

    private static PodRecord Record(string image, string? unit) => new()
    {
        Uuid = "00000000-0000-0000-0000-000000000000",
        AppName = "app",
        Image = image,
        ImageName = image,
        ManifestDigest = Running,
        CreatedAt = DateTimeOffset.UnixEpoch,
        LowerDirectories = [],
        Arguments = ["/app"],
        Environment = [],
        WorkingDirectory = "/",
        AutoUpdate = "registry",
        Unit = unit,
    };
}
