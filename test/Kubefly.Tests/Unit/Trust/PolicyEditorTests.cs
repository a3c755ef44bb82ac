using System.Text;
using Kubefly.Oci;
using Kubefly.Trust;
using Kubefly.Trust.Policy;

namespace Kubefly.Tests.Unit.Trust;

public sealed class PolicyEditorTests
{
    private const string Path = "/etc/containers/policy.json";

    [Fact]
    public void Setting_a_scope_keeps_every_other_entry_and_their_order()
    {
        var existing = Encoding.UTF8.GetBytes("""
            {
              "default": [{"type": "reject"}],
              "transports": {
                "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]},
                "docker": {
                  "b.example.com": [{"type": "reject"}],
                  "a.example.com": [{"type": "insecureAcceptAnything"}]
                }
              }
            }
            """);

        var updated = PolicyEditor.Set(existing, Path, "quay.io/coreos", TrustType.SigstoreSigned, ["/etc/pki/cosign.pub"]);
        var policy = TrustPolicy.Parse(updated, Path);

        Assert.Equal(["b.example.com", "a.example.com", "quay.io/coreos"], policy.Transports["docker"].Keys);
        Assert.True(policy.Transports.ContainsKey("docker-daemon"));
        Assert.IsType<RejectRequirement>(Assert.Single(policy.Default));
        var requirement = Assert.IsType<SigstoreSignedRequirement>(Assert.Single(policy.Match(ImageReference.Parse("quay.io/coreos/etcd:v3")).Requirements));
        Assert.Equal("/etc/pki/cosign.pub", requirement.Keys[0].Path);
    }

    [Fact]
    public void A_new_policy_starts_from_a_default_that_accepts_anything_and_the_default_can_be_replaced()
    {
        var created = PolicyEditor.Set(null, Path, "example.com", TrustType.SignedBy, ["/k1.gpg", "/k2.gpg"]);
        Assert.True(TrustPolicy.Parse(created, Path).Match(ImageReference.Parse("quay.io/x")).AcceptsAnything);

        var locked = TrustPolicy.Parse(PolicyEditor.Set(created, Path, "default", TrustType.Reject, []), Path);

        Assert.IsType<RejectRequirement>(Assert.Single(locked.Default));
        Assert.Equal(2, Assert.IsType<SignedByRequirement>(Assert.Single(locked.Match(ImageReference.Parse("example.com/app:v1")).Requirements)).Keys.Count);
    }

    [Theory]
    [InlineData("Not A Scope", "scope \"Not A Scope\"")]
    [InlineData("", "empty")]
    public void A_bad_scope_is_refused(string scope, string message) =>
        Assert.Contains(message, Assert.Throws<TrustException>(() => PolicyEditor.Set(null, Path, scope, TrustType.Reject, [])).Message, StringComparison.Ordinal);

    [Fact]
    public void A_file_that_does_not_parse_today_is_not_edited()
    {
        var error = Assert.Throws<PolicyFileException>(() => PolicyEditor.Set("{\"default\": [], \"defualt\": []}"u8.ToArray(), Path, "default", TrustType.Reject, []));

        Assert.Contains("unknown key \"defualt\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Signature_types_need_a_key() =>
        Assert.Contains("needs --key", Assert.Throws<TrustException>(() => PolicyEditor.Set(null, Path, "default", TrustType.SigstoreSigned, [])).Message, StringComparison.Ordinal);
}
