using Kubefly.Wrappers;

namespace Kubefly.Tests.Unit.Wrappers;

public sealed class KubeletApiCheckTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kubefly-apicheck-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Config(string name, string text)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static KubeletApiReport Check(params string[] flags) => KubeletApiCheck.Evaluate(flags, File.ReadAllText);

    private const string SecureFlags = "--anonymous-auth=false --authorization-mode=Webhook --read-only-port=0";

    [Fact]
    public void The_seed_flags_leave_all_three_doors_open()
    {
        var report = Check("--api-servers=http://127.0.0.1:8080", "--pod-manifest-path=/etc/kubernetes/manifests");

        Assert.Equal(3, report.Findings.Count);
        Assert.Contains("pass --anonymous-auth=false", report.Findings[0].Fix, StringComparison.Ordinal);
        Assert.Contains("AlwaysAllow", report.Findings[1].Problem, StringComparison.Ordinal);
        Assert.Contains("--authorization-mode=Webhook", report.Findings[1].Fix, StringComparison.Ordinal);
        Assert.Contains("port 10255", report.Findings[2].Problem, StringComparison.Ordinal);
        Assert.Equal("pass --read-only-port=0", report.Findings[2].Fix);
        Assert.False(report.IsSecure);

        var hint = Assert.Single(report.RemovedFlagHints);
        Assert.StartsWith("--api-servers is not accepted by current kubelets", hint, StringComparison.Ordinal);
        Assert.Contains("--kubeconfig", hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Secure_flags_are_silent()
    {
        var report = Check([.. SecureFlags.Split(' '), "--kubeconfig=/etc/kubernetes/kubelet.conf"]);

        Assert.True(report.IsSecure);
        Assert.Empty(report.RemovedFlagHints);
    }

    [Theory]
    [InlineData("--anonymous-auth=true --authorization-mode=Webhook --read-only-port=0", "anonymous")]
    [InlineData("--anonymous-auth --authorization-mode=Webhook --read-only-port=0", "anonymous")]
    [InlineData("--anonymous-auth=false --authorization-mode AlwaysAllow --read-only-port=0", "AlwaysAllow")]
    [InlineData("--anonymous-auth=false --authorization-mode=Webhook", "10255")]
    [InlineData("--anonymous-auth=false --authorization-mode=Webhook --read-only-port 10266", "10266")]
    [InlineData("--anonymous-auth=false --authorization-mode=Webhook --read-only-port=0 --anonymous-auth=true", "anonymous")]
    public void Each_open_setting_alone_is_reported(string flags, string expected)
    {
        var report = Check(flags.Split(' '));

        var finding = Assert.Single(report.Findings);
        Assert.Contains(expected, finding.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Flags_after_a_double_dash_are_not_the_kubelets()
    {
        var report = Check([.. SecureFlags.Split(' '), "--", "--anonymous-auth=true"]);

        Assert.True(report.IsSecure);
    }

    [Fact]
    public void A_config_file_with_kubelet_defaults_is_secure()
    {
        var path = Config("kubelet.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n");

        Assert.True(Check($"--config={path}").IsSecure);
    }

    [Fact]
    public void An_insecure_yaml_config_file_is_reported_with_its_keys()
    {
        var path = Config("kubelet.yaml", """
            apiVersion: kubelet.config.k8s.io/v1beta1
            kind: KubeletConfiguration
            authentication:
              anonymous:
                enabled: true
              webhook:
                enabled: false
            authorization:
              mode: AlwaysAllow
            readOnlyPort: 10255
            """);

        var report = Check("--config", path);

        Assert.Equal(3, report.Findings.Count);
        Assert.Contains($"authentication.anonymous.enabled: false in {path}", report.Findings[0].Fix, StringComparison.Ordinal);
        Assert.Contains($"authorization.mode: Webhook in {path}", report.Findings[1].Fix, StringComparison.Ordinal);
        Assert.Contains($"readOnlyPort: 0 in {path}", report.Findings[2].Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void An_insecure_json_config_file_is_reported()
    {
        var path = Config("kubelet.json", """
            {
            	"kind": "KubeletConfiguration",
            	"apiVersion": "kubelet.config.k8s.io/v1beta1",
            	"authentication": {"anonymous": {"enabled": true}},
            	"readOnlyPort": 0
            }
            """);

        var report = Check($"--config={path}");

        var finding = Assert.Single(report.Findings);
        Assert.Contains("anonymous", finding.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_secure_json_config_file_is_silent()
    {
        var path = Config("kubelet.json", """{"authentication":{"anonymous":{"enabled":false}},"authorization":{"mode":"Webhook"},"readOnlyPort":0}""");

        Assert.True(Check($"--config={path}").IsSecure);
    }

    [Fact]
    public void Flags_override_the_config_file()
    {
        var path = Config("kubelet.yaml", "authentication:\n  anonymous:\n    enabled: true\nreadOnlyPort: 10255\n");

        Assert.True(Check($"--config={path}", "--anonymous-auth=false", "--read-only-port=0").IsSecure);

        var secure = Config("secure.yaml", "authorization:\n  mode: Webhook\n");
        var report = Check($"--config={secure}", "--authorization-mode=AlwaysAllow");
        Assert.Contains("from --authorization-mode", Assert.Single(report.Findings).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unreadable_or_malformed_config_makes_the_check_incomplete()
    {
        var missing = Check(SecureFlags.Split(' ').Append($"--config={_directory}/absent.yaml").ToArray());
        Assert.False(missing.IsSecure);
        Assert.Contains("absent.yaml", missing.Incomplete, StringComparison.Ordinal);

        var malformed = Config("bad.yaml", "authentication: [unclosed\n");
        Assert.NotNull(Check([.. SecureFlags.Split(' '), $"--config={malformed}"]).Incomplete);

        var notMapping = Config("list.yaml", "- a\n- b\n");
        Assert.NotNull(Check([.. SecureFlags.Split(' '), $"--config={notMapping}"]).Incomplete);

        // YamlDotNet's scanner throws InvalidOperationException, and a repeated key ArgumentException (the
        // same library misbehaving on registries.d input, found by fuzzing): still an incomplete check.
        var scannerState = Config("scanner.yaml", "authentication:\n { anonymous: true\nauthorization:\n  mode: Webhook\n");
        Assert.Contains("scanner.yaml", Check([.. SecureFlags.Split(' '), $"--config={scannerState}"]).Incomplete, StringComparison.Ordinal);
        var repeated = Config("repeated.yaml", "readOnlyPort: 0\nreadOnlyPort: 10255\n");
        Assert.NotNull(Check([.. SecureFlags.Split(' '), $"--config={repeated}"]).Incomplete);
    }

    [Fact]
    public void A_config_directory_is_the_old_manifest_path_with_a_hint()
    {
        var report = Check([.. SecureFlags.Split(' '), $"--config={_directory}"]);

        Assert.True(report.IsSecure);
        Assert.Contains($"--pod-manifest-path={_directory}", Assert.Single(report.RemovedFlagHints), StringComparison.Ordinal);
    }

    [Fact]
    public void Removed_flags_get_one_hint_each()
    {
        var report = Check([.. SecureFlags.Split(' '), "--require-kubeconfig", "--api-servers", "http://a", "--api-servers=http://b", "--allow-privileged=true"]);

        Assert.Equal(3, report.RemovedFlagHints.Count);
        Assert.True(report.IsSecure);
    }

    [Theory]
    [InlineData(null, KubeletApiPolicy.Warn)]
    [InlineData("warn", KubeletApiPolicy.Warn)]
    [InlineData("enforce", KubeletApiPolicy.Enforce)]
    [InlineData("off", KubeletApiPolicy.Off)]
    public void Policy_values(string? value, KubeletApiPolicy expected) => Assert.Equal(expected, KubeletApiCheck.ReadPolicy(value));

    [Fact]
    public void An_unknown_policy_is_a_configuration_error()
    {
        var error = Assert.Throws<WrapperConfigurationException>(() => KubeletApiCheck.ReadPolicy("strict"));
        Assert.Contains("KUBEFLY_KUBELET_API=strict", error.Message, StringComparison.Ordinal);
    }
}
