using System.Text;
using Kubefly.Oci;
using Kubefly.Trust.Policy;

namespace Kubefly.Tests.Unit.Trust;

public sealed class PolicyScopeTests
{
    private static readonly TrustPolicy Policy = TrustPolicy.Parse(Encoding.UTF8.GetBytes("""
        {
          "default": [{"type": "reject"}],
          "transports": {
            "docker": {
              "registry.example.com:5000/ns/app:v1": [{"type": "insecureAcceptAnything"}],
              "registry.example.com:5000/ns/app@sha256:0000000000000000000000000000000000000000000000000000000000000000": [{"type": "insecureAcceptAnything"}],
              "registry.example.com:5000/ns/app": [{"type": "insecureAcceptAnything"}],
              "registry.example.com:5000/ns": [{"type": "insecureAcceptAnything"}],
              "registry.example.com:5000": [{"type": "insecureAcceptAnything"}],
              "quay.io": [{"type": "insecureAcceptAnything"}],
              "*.internal.example.com": [{"type": "insecureAcceptAnything"}],
              "*.example.com": [{"type": "insecureAcceptAnything"}],
              "docker.io/library/busybox": [{"type": "insecureAcceptAnything"}]
            },
            "oci": {
              "/srv/images/app:v1": [{"type": "insecureAcceptAnything"}],
              "/srv/images": [{"type": "insecureAcceptAnything"}]
            }
          }
        }
        """), "/etc/containers/policy.json");

    [Theory]
    [InlineData("registry.example.com:5000/ns/app:v1", "registry.example.com:5000/ns/app:v1")]
    [InlineData("registry.example.com:5000/ns/app@sha256:0000000000000000000000000000000000000000000000000000000000000000", "registry.example.com:5000/ns/app@sha256:0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("registry.example.com:5000/ns/app:v2", "registry.example.com:5000/ns/app")]
    [InlineData("registry.example.com:5000/ns/other:v1", "registry.example.com:5000/ns")]
    [InlineData("registry.example.com:5000/ns/deeper/app:v1", "registry.example.com:5000/ns")]
    [InlineData("registry.example.com:5000/elsewhere:v1", "registry.example.com:5000")]
    [InlineData("quay.io/coreos/hyperkube:v1.5.5", "quay.io")]
    [InlineData("a.b.internal.example.com/app:v1", "*.internal.example.com")]
    [InlineData("build.example.com/app:v1", "*.example.com")]
    [InlineData("busybox", "docker.io/library/busybox")]
    [InlineData("docker://docker.io/library/busybox:1.36", "docker.io/library/busybox")]
    [InlineData("oci:/srv/images/app:v1", "/srv/images/app:v1")]
    [InlineData("oci:/srv/images/app:v2", "/srv/images")]
    [InlineData("oci:/srv/images/sub/app", "/srv/images")]
    public void The_most_specific_scope_wins(string image, string scope)
    {
        var match = Policy.Match(ImageReference.Parse(image));

        Assert.EndsWith($"[\"{scope}\"]", match.Scope, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("example.com/app:v1")]
    [InlineData("registry.example.com:5001/ns/app:v1")]
    [InlineData("localhost:5000/app")]
    [InlineData("127.0.0.1:5000/app")]
    [InlineData("oci:/srv/other:v1")]
    [InlineData("oci:/srv/imagesx:v1")]
    public void Nothing_more_specific_falls_to_the_default(string image) =>
        Assert.Equal("default", Policy.Match(ImageReference.Parse(image)).Scope);

    [Fact]
    public void A_symlink_cannot_route_an_image_around_its_real_directorys_scope()
    {
        var root = Directory.CreateTempSubdirectory("kubefly-scope-");
        try
        {
            var real = Directory.CreateDirectory(System.IO.Path.Combine(root.FullName, "untrusted"));
            var link = System.IO.Path.Combine(root.FullName, "trusted-looking");
            File.CreateSymbolicLink(link, real.FullName);
            var policy = TrustPolicy.Parse(Encoding.UTF8.GetBytes("{\"default\": [{\"type\": \"insecureAcceptAnything\"}], \"transports\": {\"oci\": {\"" + real.FullName + "\": [{\"type\": \"reject\"}]}}}"), "/p.json");

            var match = policy.Match(ImageReference.Parse($"oci:{link}:v1"));

            Assert.IsType<RejectRequirement>(Assert.Single(match.Requirements));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}
