using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Integration.Wrappers;

/// <summary>
/// A <see cref="WrapperContainer"/> whose /usr/bin/rkt is kubefly's own engine, with a loopback
/// docker-registry set up in the container's /etc/containers/registries.conf as an insecure (plain http)
/// mirror of quay.io: units name quay.io images unchanged and kubefly pulls them from here (the
/// container shares the host's network). Test classes derive a fixture that pushes the images they need.
/// </summary>
public abstract class EngineContainer : WrapperContainer
{
    public const string RegistriesConfPath = "/etc/containers/registries.conf";

    protected EngineContainer()
        : base(realEngine: true)
    {
        try
        {
            Registry = DockerRegistryServer.StartPlain();
            Container.WriteFile(RegistriesConfPath, $"""
                # The test's loopback registry serves quay.io's images, so units name them unchanged.
                [[registry]]
                prefix = "quay.io"
                location = "quay.io"

                [[registry.mirror]]
                location = "{Registry.Host}"
                insecure = true
                """);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public DockerRegistryServer Registry { get; }

    /// <summary>Copies an image (any skopeo source, e.g. oci:DIR:TAG) to quay.io's mirror as REPOSITORY:TAG.</summary>
    public void PushAsQuayImage(string source, string repositoryAndTag) =>
        ProgramRunner.Shell($"skopeo copy --quiet --dest-tls-verify=false '{source}' 'docker://{Registry.Host}/{repositoryAndTag}'");

    /// <summary>The repository checkout (for its scripts).</summary>
    public static string RepositoryRoot() => Checkout.Root;

    /// <summary>
    /// Asserts no mount of a pod is left: the container's mount points are those before the start plus,
    /// at most, the host directories the wrapper made shared mount points (which stay, by design), and
    /// neither the container nor this host mounts anything under the engine's pod store.
    /// </summary>
    public void AssertNoPodMountsLeft(IReadOnlyCollection<string> mountPointsBefore, params string[] sharedMountPoints)
    {
        var left = MountPoints().Except(mountPointsBefore).Except(sharedMountPoints).ToList();
        Assert.True(left.Count == 0, $"left mounted in the container: {string.Join(", ", left)}");
        Assert.DoesNotContain("/var/lib/kubefly/pods", Container.Shell("cat /proc/1/mountinfo"), StringComparison.Ordinal);
        Assert.DoesNotContain(Path.Combine(StateDirectory!, "pods"), File.ReadAllText("/proc/self/mountinfo"), StringComparison.Ordinal);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Registry?.Dispose();
        }

        base.Dispose(disposing);
    }
}
