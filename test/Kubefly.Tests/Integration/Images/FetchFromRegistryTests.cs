using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;
using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Integration.Images;

/// <summary>`kubefly fetch` from the Debian docker-registry on 127.0.0.1, through the real binary.</summary>
[Trait("Category", "Integration")]
public sealed class FetchFromRegistryTests : IDisposable
{
    private readonly TempDirectory _state = new("kubefly-state");
    private readonly DockerRegistryServer _registry = DockerRegistryServer.StartPlain();

    public FetchFromRegistryTests()
    {
        Push(TestImages.Busybox, $"{_registry.Host}/test/busybox:v1");
    }

    public void Dispose()
    {
        _registry.Dispose();
        _state.Dispose();
    }

    [Fact]
    public void OnANodeWithoutAPolicyDockerImagesNeedInsecureOptionsImageAsInRkt()
    {
        var result = KubeflyProcess.RunOnANodeWithoutPolicy(["--dir", _state.Path, "fetch", $"docker://{_registry.Host}/test/busybox:v1"]);
        Assert.Equal(254, result.ExitCode);
        Assert.Contains("signature verification for docker images is not supported (try --insecure-options=image)", result.StandardError);
        Assert.False(Directory.Exists(Path.Combine(_state.Path, "images")), "refused before the store was touched");
    }

    [Fact]
    public void PlainHttpNeedsInsecureHttpOrAnInsecureRegistry()
    {
        var refused = Kubefly([], "--insecure-options=image", "fetch", $"docker://{_registry.Host}/test/busybox:v1");
        Assert.Equal(254, refused.ExitCode);
        Assert.Contains(_registry.Host, refused.StandardError);

        var allowed = Kubefly([], "--insecure-options=image,http", "fetch", $"docker://{_registry.Host}/test/busybox:v1");
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        Assert.Contains("image signature verification has been disabled", allowed.StandardError);
        Assert.Equal(RegistryDigest($"{_registry.Host}/test/busybox:v1"), Digest.Parse(allowed.StandardOutput.Trim()));

        using var conf = new TempDirectory();
        File.WriteAllText(conf.Combine("registries.conf"), $"[[registry]]\nlocation = \"{_registry.Host}\"\ninsecure = true\n");
        var viaConf = Kubefly(new() { ["CONTAINERS_REGISTRIES_CONF"] = conf.Combine("registries.conf") }, "fetch", "--insecure-options=image", "--pull-policy=update", $"{_registry.Host}/test/busybox:v1");
        Assert.True(viaConf.ExitCode == 0, viaConf.ToString());
    }

    [Fact]
    public void AMirrorServesQuayImagesWithoutTouchingQuay()
    {
        Push(TestImages.Busybox, $"{_registry.Host}/coreos/hyperkube:v1.5.4_coreos.0");
        using var conf = new TempDirectory();
        File.WriteAllText(conf.Combine("registries.conf"), $"""
            [[registry]]
            location = "quay.io"

            [[registry.mirror]]
            location = "{_registry.Host}"
            insecure = true
            """);
        var result = Kubefly(new() { ["CONTAINERS_REGISTRIES_CONF"] = conf.Combine("registries.conf") }, "--insecure-options=image", "fetch", "docker://quay.io/coreos/hyperkube:v1.5.4_coreos.0");
        Assert.True(result.ExitCode == 0, result.ToString());
        var list = Kubefly([], "image", "list", "--full");
        Assert.Contains("quay.io/coreos/hyperkube:v1.5.4_coreos.0", list.StandardOutput);
    }

    [Fact]
    public void MultiPlatformIndexesFromTheRegistryResolveToThisHost()
    {
        ProgramRunner.Shell($"skopeo copy -q --all --dest-tls-verify=false oci:{TestImages.Layout}:{TestImages.MultiPlatform} docker://{_registry.Host}/test/multi:v1");
        var result = Kubefly([], "--insecure-options=image,http", "fetch", $"{_registry.Host}/test/multi:v1");
        Assert.True(result.ExitCode == 0, result.ToString());
        var extract = Kubefly([], "image", "extract", "--rootfs-only", result.StandardOutput.Trim(), _state.Combine("rootfs"));
        Assert.True(extract.ExitCode == 0, extract.ToString());
        Assert.True(File.Exists(_state.Combine("rootfs", "bin", "busybox")));
    }

    [Fact]
    public void ProgressIsOneLinePerEventOffATerminalAndQuietSilencesIt()
    {
        var loud = Kubefly([], "--insecure-options=image,http", "fetch", $"{_registry.Host}/test/busybox:v1");
        Assert.True(loud.ExitCode == 0, loud.ToString());
        Assert.Matches(@"fetching layer sha256:[0-9a-f]{64} \(", loud.StandardError);
        Assert.Matches(@"layer sha256:[0-9a-f]{64} done: ", loud.StandardError);
        Assert.DoesNotContain("\x1b[", loud.StandardError);

        using var other = new TempDirectory("kubefly-state");
        var quiet = KubeflyProcess.Run(["--dir", other.Path, "--insecure-options=image,http", "fetch", "--quiet", $"{_registry.Host}/test/busybox:v1"]);
        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.DoesNotContain("layer", quiet.StandardError);
    }

    [Fact]
    public void AMissingTagNamesTheImageAndTheRegistry()
    {
        var result = Kubefly([], "--insecure-options=image,http", "fetch", $"{_registry.Host}/test/busybox:nope");
        Assert.Equal(254, result.ExitCode);
        Assert.Contains("test/busybox", result.StandardError);
        Assert.Contains(_registry.Host, result.StandardError);
    }

    [Fact]
    public void BasicAuthCredentialsComeFromAnAuthFile()
    {
        using var secured = DockerRegistryServer.StartWithBasicAuth("kube", "fly-secret");
        Push(TestImages.Busybox, $"{secured.Host}/test/busybox:v1", "--dest-creds=kube:fly-secret");
        var denied = Kubefly([], "--insecure-options=image,http", "fetch", $"{secured.Host}/test/busybox:v1");
        Assert.Equal(254, denied.ExitCode);

        using var auth = new TempDirectory();
        var token = Convert.ToBase64String("kube:fly-secret"u8.ToArray());
        File.WriteAllText(auth.Combine("auth.json"), $"{{\"auths\":{{\"{secured.Host}\":{{\"auth\":\"{token}\"}}}}}}");
        var allowed = Kubefly(new() { ["REGISTRY_AUTH_FILE"] = auth.Combine("auth.json") }, "--insecure-options=image,http", "fetch", $"{secured.Host}/test/busybox:v1");
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
    }

    private static void Push(string tag, string destination, string extra = "") =>
        ProgramRunner.Shell($"skopeo copy -q --dest-tls-verify=false {extra} oci:{TestImages.Layout}:{tag} docker://{destination}");

    private static Digest RegistryDigest(string reference) =>
        Digest.Compute(System.Text.Encoding.UTF8.GetBytes(ProgramRunner.Shell($"skopeo inspect --raw --tls-verify=false docker://{reference}")));

    private ProcessResult Kubefly(Dictionary<string, string?> environment, params string[] arguments) =>
        KubeflyProcess.Run(["--dir", _state.Path, .. arguments], environment);
}
