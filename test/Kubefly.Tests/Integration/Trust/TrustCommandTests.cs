using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Trust;

namespace Kubefly.Tests.Integration.Trust;

/// <summary>`kubefly trust` and `kubefly trust set` as an operator uses them.</summary>
[Trait("Category", "Integration")]
public sealed class TrustCommandTests : IDisposable
{
    private readonly TempDirectory _work = new("kubefly-trust-cmd");

    public void Dispose() => _work.Dispose();

    [Fact]
    public void Trust_set_writes_a_policy_the_verifier_reads_and_trust_shows_it()
    {
        var key = CosignAttachments.NewOpensslKey(_work.Path, "cosign");
        var policy = _work.Combine("policy.json");

        var absent = Kubefly(policy, "trust");
        Assert.True(absent.ExitCode == 0, absent.ToString());
        Assert.Contains("no policy at", absent.StandardOutput, StringComparison.Ordinal);

        var set = Kubefly(policy, "trust", "set", "--type=sigstoreSigned", $"--key={_work.Combine("cosign.pub")}", "quay.io/coreos");
        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.True(Kubefly(policy, "trust", "set", "-t", "reject", "default").ExitCode == 0);

        var list = Kubefly(policy, "trust");
        Assert.Contains("default", list.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("reject", list.StandardOutput, StringComparison.Ordinal);
        Assert.Contains($"sigstoreSigned (key file {_work.Combine("cosign.pub")}", list.StandardOutput, StringComparison.Ordinal);

        var one = Kubefly(policy, "trust", "quay.io/coreos/hyperkube:v1.5.5_coreos.0");
        Assert.Contains("scope: transports.docker[\"quay.io/coreos\"]", one.StandardOutput, StringComparison.Ordinal);
        var refused = Kubefly(policy, "trust", "--format=json", "docker.io/library/busybox");
        Assert.Contains("\"scope\":\"default\"", refused.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("reject", refused.StandardOutput, StringComparison.Ordinal);

        var privateKey = Kubefly(policy, "trust", "set", "--type=sigstoreSigned", $"--key={key}", "example.com");
        Assert.Equal(254, privateKey.ExitCode);
        Assert.Contains("never give the policy a private key", privateKey.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("example.com", File.ReadAllText(policy), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_work.Path, ".policy.json.*"));
    }

    [Fact]
    public void Trust_set_refuses_to_edit_a_policy_that_does_not_parse()
    {
        var policy = _work.Combine("policy.json");
        File.WriteAllText(policy, "{\n  \"default\": [{\"type\": \"reject\"}],\n  \"default\": []\n}\n");

        var result = Kubefly(policy, "trust", "set", "-t", "accept", "default");

        Assert.Equal(254, result.ExitCode);
        Assert.Contains($"policy {policy}:3: duplicate key \"default\"", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("\"default\": []", File.ReadAllText(policy), StringComparison.Ordinal);
    }

    private static ProcessResult Kubefly(string policy, params string[] arguments) => KubeflyProcess.Run([$"--policy={policy}", .. arguments]);
}
