using Kubefly.Wrappers;

namespace Kubefly.Tests.Unit.Wrappers;

public class UnitFileTests
{
    [Fact]
    public void Kubelet_unit_follows_the_seed_pattern_with_a_persistent_uuid_file()
    {
        var text = UnitFile.Render(WrapperProfiles.Kubelet, new UnitRequest(null, "v1.5.4_coreos.0", ["--api-servers=http://127.0.0.1:8080", "--pod-manifest-path=/etc/kubernetes/manifests"]));
        var lines = text.Split('\n');

        Assert.Contains("Environment=KUBELET_IMAGE_TAG=v1.5.4_coreos.0", lines);
        Assert.Contains("Environment=RKT_RUN_ARGS=--uuid-file-save=/var/lib/kubefly/kubelet-pod.uuid", lines);
        Assert.Contains("ExecStartPre=-/usr/bin/rkt rm --uuid-file=/var/lib/kubefly/kubelet-pod.uuid", lines);
        Assert.Contains("ExecStop=-/usr/bin/rkt stop --uuid-file=/var/lib/kubefly/kubelet-pod.uuid", lines);
        Assert.Contains("ExecStart=/usr/lib/coreos/kubelet-wrapper \\\n  --api-servers=http://127.0.0.1:8080 \\\n  --pod-manifest-path=/etc/kubernetes/manifests\n", text, StringComparison.Ordinal);

        // The trade-off of a uuid file that survives reboots is written down in the unit itself.
        Assert.Contains(lines, line => line.StartsWith('#') && line.Contains("outlives a reboot", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith('#') && line.Contains("Trade-off", StringComparison.Ordinal));
        Assert.True(
            Array.IndexOf(lines, "ExecStartPre=-/usr/bin/rkt rm --uuid-file=/var/lib/kubefly/kubelet-pod.uuid") < Array.FindIndex(lines, l => l.StartsWith("ExecStart=", StringComparison.Ordinal)));
    }

    [Fact]
    public void Etcd_unit_is_type_notify_with_its_user_and_data_dir()
    {
        var text = UnitFile.Render(WrapperProfiles.Etcd, new UnitRequest("docker://127.0.0.1:5000/etcd:v3.4", null, []));
        var lines = text.Split('\n');

        Assert.Contains("Type=notify", lines);
        Assert.Contains("Restart=on-failure", lines);
        Assert.Contains("LimitNOFILE=40000", lines);
        Assert.Contains("Environment=ETCD_IMAGE=docker://127.0.0.1:5000/etcd:v3.4", lines);
        Assert.Contains("Environment=ETCD_USER=etcd", lines);
        Assert.Contains("Environment=ETCD_DATA_DIR=/var/lib/etcd", lines);
        Assert.Contains("ExecStart=/usr/lib/coreos/etcd-wrapper \\", lines);
        Assert.Contains("  $ETCD_OPTS", lines);
    }

    [Fact]
    public void Flannel_unit_reads_its_options_file()
    {
        var lines = UnitFile.Render(WrapperProfiles.Flannel, new UnitRequest(null, "v0.11.0", [])).Split('\n');

        Assert.Contains("EnvironmentFile=-/run/flannel/options.env", lines);
        Assert.Contains("Restart=always", lines);
        Assert.Contains("  $FLANNEL_OPTS", lines);
    }

    [Theory]
    [InlineData("--node-labels=a=b", "--node-labels=a=b")]
    [InlineData("--node-labels=a b", "\"--node-labels=a b\"")]
    [InlineData("--root=$HOME", "--root=$$HOME")]
    [InlineData("--fmt=%h", "--fmt=%%h")]
    [InlineData("say \"hi\"", "\"say \\\"hi\\\"\"")]
    [InlineData("", "\"\"")]
    [InlineData(";", "\";\"")]
    public void Exec_words_stay_literal_under_systemd(string word, string written) => Assert.Equal(written, UnitFile.ExecWord(word));

    [Fact]
    public void Environment_values_with_spaces_are_quoted()
    {
        Assert.Equal("Environment=\"RKT_RUN_ARGS=--a --b\"", UnitFile.Environment("RKT_RUN_ARGS", "--a --b"));
        Assert.Equal("Environment=X=50%%", UnitFile.Environment("X", "50%"));
    }
}
