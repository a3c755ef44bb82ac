using Kubefly.Oci;

namespace Kubefly.Tests.Unit;

public class ImageReferenceTests
{
    [Theory]
    [InlineData("busybox", "docker.io", "library/busybox", "latest", "docker.io/library/busybox:latest")]
    [InlineData("docker://busybox:1.36", "docker.io", "library/busybox", "1.36", "docker.io/library/busybox:1.36")]
    [InlineData("quay.io/coreos/hyperkube:v1.5.4_coreos.0", "quay.io", "coreos/hyperkube", "v1.5.4_coreos.0", "quay.io/coreos/hyperkube:v1.5.4_coreos.0")]
    [InlineData("docker://quay.io/coreos/hyperkube:v1.5.4_coreos.0", "quay.io", "coreos/hyperkube", "v1.5.4_coreos.0", "quay.io/coreos/hyperkube:v1.5.4_coreos.0")]
    [InlineData("127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b", "latest", "127.0.0.1:5000/a/b:latest")]
    [InlineData("localhost/x:1", "localhost", "x", "1", "localhost/x:1")]
    [InlineData("index.docker.io/foo/bar", "docker.io", "foo/bar", "latest", "docker.io/foo/bar:latest")]
    public void NormalizesDockerReferences(string input, string registry, string repository, string tag, string canonical)
    {
        var reference = ImageReference.Parse(input);
        Assert.Equal(ImageTransport.Docker, reference.Transport);
        Assert.Equal(registry, reference.Registry);
        Assert.Equal(repository, reference.Repository);
        Assert.Equal(tag, reference.Tag);
        Assert.Equal(canonical, reference.ToString());
    }

    [Fact]
    public void DockerHubUsesItsApiHost()
    {
        Assert.Equal("registry-1.docker.io", ImageReference.Parse("busybox").ApiHost);
        Assert.Equal("127.0.0.1:5000", ImageReference.Parse("127.0.0.1:5000/x").ApiHost);
    }

    [Fact]
    public void DigestPinnedReferenceHasNoDefaultTag()
    {
        var reference = ImageReference.Parse("busybox@sha256:" + new string('a', 64));
        Assert.Null(reference.Tag);
        Assert.Equal("sha256:" + new string('a', 64), reference.Digest.ToString());
    }

    [Theory]
    [InlineData("oci:/tmp/layout:v1", ImageTransport.OciLayout, "/tmp/layout", "v1")]
    [InlineData("oci:/tmp/layout", ImageTransport.OciLayout, "/tmp/layout", null)]
    [InlineData("oci-archive:/tmp/a.tar:v2", ImageTransport.OciArchive, "/tmp/a.tar", "v2")]
    [InlineData("docker-archive:/tmp/saved.tar", ImageTransport.DockerArchive, "/tmp/saved.tar", null)]
    public void ParsesFileTransports(string input, ImageTransport transport, string path, string? tag)
    {
        var reference = ImageReference.Parse(input);
        Assert.Equal(transport, reference.Transport);
        Assert.Equal(path, reference.Path);
        Assert.Equal(tag, reference.Tag);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("Busybox", "lowercase")]
    [InlineData("ftp://example.com/x", "unknown transport")]
    [InlineData("dir:/tmp/x", "unsupported transport")]
    [InlineData("busybox:bad/tag", "invalid")]
    [InlineData("busybox@sha256:1234", "invalid digest")]
    [InlineData("a/../b", "invalid repository path component")]
    [InlineData("busybox:", "invalid tag")]
    public void RejectsMalformedReferencesNamingTheInput(string input, string reason)
    {
        var error = Assert.Throws<ImageException>(() => ImageReference.Parse(input));
        Assert.Contains(reason, error.Message);
        Assert.Contains("invalid image reference", error.Message);
    }

    [Fact]
    public void PlatformMatchingPrefersExactArmVariant()
    {
        var host = new Platform("linux", "arm", "v7");
        Assert.Equal(0, host.MatchRank(new ManifestPlatform { Os = "linux", Architecture = "arm", Variant = "v7" }));
        Assert.True(host.MatchRank(new ManifestPlatform { Os = "linux", Architecture = "arm", Variant = "v6" }) > 0);
        Assert.Equal(-1, host.MatchRank(new ManifestPlatform { Os = "linux", Architecture = "arm", Variant = "v8" }));
        Assert.Equal(-1, host.MatchRank(new ManifestPlatform { Os = "windows", Architecture = "arm", Variant = "v7" }));
    }

    /// <summary>Found by the fuzzer (ParserPropertyTests): a NUL in a file path threw .NET's ArgumentException.</summary>
    [Theory]
    [InlineData("oci:/x\0/y:tag")]
    [InlineData("oci-archive:/a\0.tar")]
    [InlineData("docker-archive:\0")]
    public void A_nul_in_a_file_path_is_an_error_in_kubefly_s_words(string input)
    {
        Assert.False(ImageReference.TryParse(input, out _, out var error));
        Assert.Contains("contains a NUL character", error, StringComparison.Ordinal);
    }
}
