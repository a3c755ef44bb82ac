using Kubefly.Images.Store;
using Kubefly.Oci;
using Kubefly.Pods;
using Kubefly.Pods.Updates;
using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Unit.Pods;

/// <summary>
/// The parts of applying an update that need no systemd: the version skew rule, the health gate's
/// settings from a unit's variables, the updater's state file (hostile input too), the store's holds
/// and the metrics file. Restarts, gates and rollbacks run under a real systemd in
/// Integration/Wrappers/AutoUpdateUnderSystemdTests.
/// </summary>
public sealed class UpdateApplyingTests : IDisposable
{
    private readonly TempDirectory _state = new("update-applying");

    public void Dispose() => _state.Dispose();

    [Theory]
    [InlineData("v1.28.3", "v1.28.4", null)]
    [InlineData("v1.28.3", "v1.29.0", "the update changes the minor version (v1.28.3 to v1.29.0)")]
    [InlineData("1.28.3", "2.0.0", "the update changes the minor version (1.28.3 to 2.0.0)")]
    [InlineData("v1.28.3-gke.1", "v1.28.9+k3s1", null)]
    [InlineData("v1.28.3", "latest", null)]
    [InlineData("nightly", "v1.30.0", null)]
    public void The_version_skew_rule_refuses_a_new_minor_version_by_the_images_version_labels(string from, string to, string? refusal)
    {
        Assert.Equal(refusal, VersionSkew.Refusal(Labels(from), Labels(to)));
    }

    [Fact]
    public void An_image_without_a_version_label_is_never_refused_by_the_skew_rule()
    {
        Assert.Null(VersionSkew.Refusal(null, Labels("v1.29.0")));
        Assert.Null(VersionSkew.Refusal(Labels("v1.28.0"), new Dictionary<string, string>()));
    }

    [Fact]
    public void The_health_gate_reads_the_unit_s_url_and_timeout_and_defaults_to_two_minutes()
    {
        var requirement = HealthRequirement.From(Record() with { HealthUrl = "http://127.0.0.1:10248/healthz", HealthTimeout = "45s" }, TimeSpan.FromSeconds(3));
        Assert.Equal(new Uri("http://127.0.0.1:10248/healthz"), requirement.Url);
        Assert.Equal(TimeSpan.FromSeconds(45), requirement.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(3), requirement.Settle);

        var none = HealthRequirement.From(Record(), TimeSpan.FromSeconds(10));
        Assert.Null(none.Url);
        Assert.Equal(TimeSpan.FromMinutes(2), none.Timeout);
    }

    [Theory]
    [InlineData("file:///etc/shadow", null, "KUBEFLY_HEALTH_URL=\"file:///etc/shadow\" is not an http:// or https:// URL")]
    [InlineData("127.0.0.1:10248/healthz", null, "is not an http:// or https:// URL")]
    [InlineData("http://bad\u001bhost:10248/healthz", null, "\\x1b")]
    [InlineData(null, "soon", "KUBEFLY_HEALTH_TIMEOUT")]
    public void A_health_setting_that_makes_no_sense_fails_that_unit_in_words_naming_the_variable(string? url, string? timeout, string expected)
    {
        var error = Assert.Throws<InvalidValueException>(() => HealthRequirement.From(Record() with { HealthUrl = url, HealthTimeout = timeout }, TimeSpan.Zero));
        Assert.Contains("unit kubelet.service", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_state_file_keeps_the_journal_and_counters_across_runs_and_one_updater_runs_at_a_time()
    {
        using (var state = UpdateStateStore.Open(_state.Path))
        {
            state.Update("kubelet.service", s => s with { Journal = new UpdateJournal { Phase = UpdatePhase.Restarting, Name = "quay.io/a/b:v1", From = "sha256:1", To = "sha256:2", Dependents = ["x.service"] }, Failures = 2 });
            state.AddPullBytes(1234);
            var second = Assert.Throws<KubeflyException>(() => UpdateStateStore.Open(_state.Path));
            Assert.Contains("another `kubefly auto-update` is running", second.Message, StringComparison.Ordinal);
        }

        using var reopened = UpdateStateStore.Open(_state.Path);
        var unit = reopened.Unit("kubelet.service");
        Assert.Equal(UpdatePhase.Restarting, unit.Journal!.Phase);
        Assert.Equal(["x.service"], unit.Journal.Dependents);
        Assert.Equal(2, unit.Failures);
        Assert.Equal(1234, reopened.State.PullBytes);
        Assert.Equal("700", Convert.ToString((int)File.GetUnixFileMode(_state.Combine("auto-update")), 8));
    }

    [Theory]
    [InlineData("{\"units\": {\"a\": {\"journal\": {\"phase\": \"Exploding\"}}}}")]
    [InlineData("{\"units\": {\"a\": {\"journal\": {\"phase\": \"Switching\"}}}}")]
    [InlineData("[1, 2")]
    [InlineData("null")]
    [InlineData("\u0000\u0001binary")]
    public void A_corrupt_state_file_is_refused_with_its_path_and_what_to_do(string content)
    {
        Directory.CreateDirectory(_state.Combine("auto-update"));
        File.SetUnixFileMode(_state.Combine("auto-update"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.WriteAllText(_state.Combine("auto-update", "state.json"), content);

        var error = Assert.Throws<KubeflyException>(() => UpdateStateStore.Open(_state.Path));

        Assert.Contains($"auto-update state {_state.Combine("auto-update", "state.json")} is corrupt", error.Message, StringComparison.Ordinal);
        Assert.Contains("move it away to start over", error.Message, StringComparison.Ordinal);
        Assert.DoesNotMatch(UserFacingText.NotKubeflysWords(), error.Message);
    }

    [Fact]
    public void An_oversized_state_file_is_refused_before_it_is_read()
    {
        Directory.CreateDirectory(_state.Combine("auto-update"));
        File.SetUnixFileMode(_state.Combine("auto-update"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using (var file = File.Create(_state.Combine("auto-update", "state.json")))
        {
            file.SetLength(2 << 20);
        }

        var error = Assert.Throws<KubeflyException>(() => UpdateStateStore.Open(_state.Path));
        Assert.Contains("is 2097152 bytes (limit 1048576)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_hold_keeps_one_image_per_holder_and_moves_when_the_holder_names_another()
    {
        var store = new ImageStore(_state.Path);
        store.EnsureCreated();
        var first = Digest.Compute("first"u8);
        var second = Digest.Compute("second"u8);

        store.Hold("auto-update@kubelet.service", first);
        store.Hold("auto-update@etcd-member.service", first);
        Assert.Equal(["auto-update@etcd-member.service", "auto-update@kubelet.service"], store.HoldersOf(first));
        Assert.True(store.IsInUse(first));

        store.Hold("auto-update@kubelet.service", second);
        Assert.Equal(["auto-update@etcd-member.service"], store.HoldersOf(first));
        Assert.Equal(second, store.HeldBy("auto-update@kubelet.service"));
        Assert.False(store.IsInUse(Digest.Compute("third"u8)));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/b")]
    [InlineData(".hidden")]
    [InlineData("")]
    [InlineData("x.tmp-1")]
    [InlineData("new\nline")]
    public void A_holder_name_that_could_leave_the_holds_directory_is_refused(string holder)
    {
        var store = new ImageStore(_state.Path);
        store.EnsureCreated();
        Assert.Throws<ImageException>(() => store.Hold(holder, Digest.Compute("x"u8)));
        Assert.False(File.Exists(_state.Combine("images", "escape")));
    }

    [Fact]
    public void The_metrics_file_lists_what_each_unit_runs_and_the_counters_in_the_exposition_format()
    {
        var state = new UpdateStateFile
        {
            Units = new Dictionary<string, UnitUpdateState>(StringComparer.Ordinal)
            {
                ["kubelet.service"] = new() { LastSuccess = DateTimeOffset.FromUnixTimeSeconds(1_796_000_000), Failures = 1, Rollbacks = 1 },
            },
            PullBytes = 4096,
        };
        var units = new[]
        {
            new UpdateCandidate { Pod = "p", Unit = "kubelet.service", Image = "quay.io/a/\"b\":v1", RunningDigest = "sha256:aa", Action = UpdateAction.Updated },
        };

        var text = UpdateMetrics.Render(units, state);
        UpdateMetrics.Write(_state.Path, text);

        Assert.Equal(text, File.ReadAllText(_state.Combine("kubefly.prom")));
        Assert.Contains("kubefly_image_info{unit=\"kubelet.service\",image=\"quay.io/a/\\\"b\\\":v1\",digest=\"sha256:aa\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kubefly_update_last_success_timestamp_seconds{unit=\"kubelet.service\"} 1796000000\n", text, StringComparison.Ordinal);
        Assert.Contains("kubefly_update_failures_total{unit=\"kubelet.service\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kubefly_rollbacks_total{unit=\"kubelet.service\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kubefly_pull_bytes_total 4096\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE kubefly_rollbacks_total counter\n", text, StringComparison.Ordinal);
        Assert.Equal(["kubefly.prom"], Directory.GetFiles(_state.Path).Select(Path.GetFileName));
    }

    private static Dictionary<string, string> Labels(string version) => new() { [VersionSkew.Label] = version };

    private static PodRecord Record() => new()
    {
        Uuid = "00000000-0000-0000-0000-000000000000",
        AppName = "kubelet",
        Image = "quay.io/coreos/hyperkube:v1.28",
        ImageName = "quay.io/coreos/hyperkube:v1.28",
        ManifestDigest = Digest.Compute("v1"u8).ToString(),
        CreatedAt = DateTimeOffset.UnixEpoch,
        LowerDirectories = [],
        Arguments = ["/kubelet"],
        Environment = [],
        WorkingDirectory = "/",
        AutoUpdate = "registry",
        Unit = "kubelet.service",
    };
}
