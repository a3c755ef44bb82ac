using System.Text.Json;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Integration;

/// <summary>`kubefly doctor` on this node: real kernel checks, real registries on 127.0.0.1.</summary>
[Trait("Category", "Integration")]
public sealed class DoctorTests : IDisposable
{
    private readonly TempDirectory _state = new("kubefly-state");
    private readonly TempDirectory _conf = new("kubefly-doctor");

    public void Dispose()
    {
        _conf.Dispose();
        _state.Dispose();
    }

    [Fact]
    public void A_reachable_registry_is_ok_an_unreachable_one_fails_with_the_exit_code_and_json_says_the_same()
    {
        using var registry = DockerRegistryServer.StartPlain();
        File.WriteAllText(_conf.Combine("registries.conf"), $"""
            [[registry]]
            location = "{registry.Host}"
            insecure = true

            [[registry]]
            location = "127.0.0.1:1"
            insecure = true
            """);

        var text = Doctor();
        Assert.Equal(1, text.ExitCode);
        Assert.Contains($"ok    registry {registry.Host}: reachable over http", text.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("fail  registry 127.0.0.1:1:", text.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("ok    kernel: openat2", text.StandardOutput, StringComparison.Ordinal);

        var json = Doctor("--format=json");
        var checks = JsonDocument.Parse(json.StandardOutput).RootElement.EnumerateArray().ToDictionary(c => c.GetProperty("check").GetString()!, c => c.GetProperty("status").GetString());
        Assert.Equal("ok", checks[$"registry {registry.Host}"]);
        Assert.Equal("fail", checks["registry 127.0.0.1:1"]);
        Assert.Equal(1, json.ExitCode);
    }

    [Fact]
    public void A_state_directory_others_can_write_to_fails_with_the_fix_and_offline_skips_registries()
    {
        File.WriteAllText(_conf.Combine("registries.conf"), "[[registry]]\nlocation = \"127.0.0.1:1\"\n");
        File.SetUnixFileMode(_state.Path, (UnixFileMode)0b111_111_111);

        var result = Doctor("--offline");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"fail  state directory {_state.Path}: refusing to use state directory {_state.Path}: it is writable by group or others", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("chmod go-w", result.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("registry 127.0.0.1:1", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void A_broken_policy_fails_naming_its_line()
    {
        File.WriteAllText(_conf.Combine("registries.conf"), string.Empty);
        File.WriteAllText(_conf.Combine("policy.json"), "{\n  \"defualt\": []\n}\n");

        var result = Doctor("--offline", $"--policy={_conf.Combine("policy.json")}");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"fail  trust policy: policy {_conf.Combine("policy.json")}:2: unknown key \"defualt\"", result.StandardOutput, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("unqualified-search-registries = [\"registry.fedoraproject.org\", \"docker.io\"]\n", "warn  registries.conf:", "resolves a short name such as \"busybox\" to docker.io")]
    [InlineData("unqualified-search-registries = [\"docker.io\", \"quay.io\"]\n", "ok    registries.conf:", "")]
    [InlineData("[[registry]]\nlocation = \"quay.io\\u", "fail  registries.conf:", "ends inside a string's escape")]
    public void Registries_conf_short_name_search_and_truncation_are_reported(string conf, string line, string detail)
    {
        File.WriteAllText(_conf.Combine("registries.conf"), conf);

        var result = Doctor("--offline");

        Assert.Contains(line, result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains(detail, result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void Free_space_reports_inodes_and_overlay_reports_the_kernel()
    {
        File.WriteAllText(_conf.Combine("registries.conf"), string.Empty);

        var output = Doctor("--offline").StandardOutput;

        Assert.Matches(@"free space: \d+ MiB free for [^\n]*, \d+ of \d+ inodes free", output);
        Assert.Matches(@"kernel: overlay filesystem: overlay is available \(Linux \d+\.\d+", output);
    }

    [Fact]
    public void A_wrapper_check_finds_its_image_in_the_store_warns_when_missing_and_fails_without_its_variables()
    {
        File.WriteAllText(_conf.Combine("registries.conf"), string.Empty);
        var image = Infrastructure.Images.TestImages.Reference(Infrastructure.Images.TestImages.Busybox);
        var fetched = KubeflyProcess.Run(["--dir", _state.Path, "fetch", "--quiet", image]);
        Assert.True(fetched.ExitCode == 0, fetched.ToString());

        var present = DoctorWith(new() { ["KUBELET_IMAGE"] = image }, "--offline", "--wrapper=kubelet");
        var missing = DoctorWith(new() { ["KUBELET_IMAGE"] = "oci:/nonexistent/layout:v1" }, "--offline", "--wrapper=kubelet");
        var unresolved = DoctorWith(new() { ["KUBELET_IMAGE"] = null, ["KUBELET_IMAGE_TAG"] = null }, "--offline", "--wrapper=kubelet");

        Assert.Contains($"ok    wrapper kubelet: kubelet-wrapper runs {image}, in the store as sha256:", present.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("warn  wrapper kubelet: kubelet-wrapper runs oci:/nonexistent/layout:v1, which is not in the store", missing.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("fix: fetch it ahead: kubefly fetch oci:/nonexistent/layout:v1", missing.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(1, unresolved.ExitCode);
        Assert.Contains("fail  wrapper kubelet: ", unresolved.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("KUBELET_IMAGE_TAG", unresolved.StandardOutput, StringComparison.Ordinal);
    }

    private ProcessResult DoctorWith(Dictionary<string, string?> environment, params string[] arguments)
    {
        environment["CONTAINERS_REGISTRIES_CONF"] = _conf.Combine("registries.conf");
        return KubeflyProcess.Run(["--dir", _state.Path, "doctor", .. arguments], environment);
    }

    private ProcessResult Doctor(params string[] arguments) =>
        KubeflyProcess.Run(["--dir", _state.Path, "doctor", .. arguments], new Dictionary<string, string?> { ["CONTAINERS_REGISTRIES_CONF"] = _conf.Combine("registries.conf") });
}
