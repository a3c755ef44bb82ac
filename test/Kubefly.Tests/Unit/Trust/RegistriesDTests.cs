using System.Text;
using Kubefly.Oci;
using Kubefly.Trust;
using Kubefly.Trust.Signatures;

namespace Kubefly.Tests.Unit.Trust;

public sealed class RegistriesDTests
{
    [Fact]
    public void The_most_specific_scope_that_sets_each_setting_wins_then_default_docker()
    {
        var config = new RegistriesD();
        config.Add("/etc/containers/registries.d/default.yaml", Encoding.UTF8.GetBytes("""
            default-docker:
              lookaside: file:///var/lib/containers/sigstore
            """));
        config.Add("/etc/containers/registries.d/example.yaml", Encoding.UTF8.GetBytes("""
            docker:
              example.com:
                lookaside: https://sigs.example.com/signatures
                use-sigstore-attachments: true
              example.com/team:
                use-sigstore-attachments: false
              example.com/team/app:
                sigstore: http://old.example.com/sigs
            """));

        var app = config.For(ImageReference.Parse("example.com/team/app:v1"));
        var team = config.For(ImageReference.Parse("example.com/team/other:v1"));
        var elsewhere = config.For(ImageReference.Parse("quay.io/x/y"));

        Assert.Equal("http://old.example.com/sigs", app.Lookaside!.ToString());
        Assert.False(app.UseSigstoreAttachments);
        Assert.Equal("https://sigs.example.com/signatures", team.Lookaside!.ToString());
        Assert.False(team.UseSigstoreAttachments);
        Assert.Equal("file:///var/lib/containers/sigstore", elsewhere.Lookaside!.ToString());
        Assert.Null(elsewhere.UseSigstoreAttachments);
    }

    [Theory]
    [InlineData("docker:\n  example.com:\n    lookasid: file:///x\n", 3, "unknown key \"lookasid\"")]
    [InlineData("dockr:\n  example.com: {}\n", 1, "unknown key \"dockr\"")]
    [InlineData("docker:\n  example.com:\n    lookaside: ftp://x/y\n", 3, "not a file://, http:// or https:// URL")]
    [InlineData("docker:\n  example.com:\n    use-sigstore-attachments: yes please\n", 3, "must be true or false")]
    [InlineData("docker:\n  Not A Scope:\n    lookaside: file:///x\n", 2, "scope \"Not A Scope\"")]
    [InlineData("docker: [1, 2]\n", 1, "must map scopes")]
    [InlineData("docker:\n  example.com: {lookaside: 'file:///x'\n", 3, "not valid YAML")]
    [InlineData("default-docker:\n { lookaside: file:///var/lib/sigs\ndocker:\n  quay.io/coreos:\n    lookaside: https://sigs.example.com\n", 0, "not valid YAML")] // YamlDotNet's scanner threw InvalidOperationException (fuzzing)
    public void A_bad_file_is_refused_naming_file_and_line(string yaml, int line, string message)
    {
        var error = Assert.Throws<TrustException>(() => new RegistriesD().Add("/etc/containers/registries.d/x.yaml", Encoding.UTF8.GetBytes(yaml)));

        Assert.Contains(line == 0 ? "/etc/containers/registries.d/x.yaml: " : $"/etc/containers/registries.d/x.yaml:{line}:", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_scope_or_default_defined_in_two_files_is_refused()
    {
        var config = new RegistriesD();
        config.Add("/d/a.yaml", "default-docker:\n  lookaside: file:///a\ndocker:\n  example.com:\n    lookaside: file:///b\n"u8.ToArray());

        Assert.Contains("already defined", Assert.Throws<TrustException>(() => config.Add("/d/b.yaml", "default-docker:\n  lookaside: file:///c\n"u8.ToArray())).Message, StringComparison.Ordinal);
        Assert.Contains("defined twice", Assert.Throws<TrustException>(() => config.Add("/d/c.yaml", "docker:\n  example.com:\n    lookaside: file:///d\n"u8.ToArray())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Signatures_live_under_the_repository_path_and_digest()
    {
        var digest = Digest.Compute("m"u8.ToArray());

        var uri = LookasideReader.SignatureUri(new Uri("https://sigs.example.com/base/"), ImageReference.Parse("busybox:1.36"), digest, 2);

        Assert.Equal($"https://sigs.example.com/base/library/busybox@sha256={digest.Hex}/signature-2", uri.ToString());
    }
}
