using System.Security.Cryptography;
using System.Text;
using Kubefly.Images;
using Kubefly.Oci;
using Kubefly.Pods;
using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Unit.Pods;

/// <summary>
/// A stand-in for the image store in pod tests: one layer directory holding Debian's busybox-static
/// (<see cref="BusyboxRootfs"/>).
/// </summary>
public sealed class BusyboxImageProvider : IPodImageProvider, IDisposable
{
    public BusyboxImageProvider(ContainerConfig? config = null)
    {
        Root = Directory.CreateTempSubdirectory("kubefly-busybox-").FullName;
        LayerDirectory = Path.Combine(Root, "layer");
        Config = config ?? new ContainerConfig { Cmd = ["sh"], Env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] };
        BusyboxRootfs.WriteTo(LayerDirectory);
    }

    public string Root { get; }

    public string LayerDirectory { get; }

    public ContainerConfig Config { get; }

    public List<(string Image, PullPolicy Policy, InsecureOptions Insecure)> Requests { get; } = [];

    public StoredImage AcquireAndPin(string image, PullPolicy policy, InsecureOptions insecure, PodUuid pod, string podsDirectory, bool transient)
    {
        Requests.Add((image, policy, insecure));
        return new StoredImage
        {
            ManifestDigest = Digest.FromHashBytes(SHA256.HashData(Encoding.UTF8.GetBytes("manifest " + image))),
            ConfigDigest = Digest.FromHashBytes(SHA256.HashData(Encoding.UTF8.GetBytes("config " + image))),
            Names = ["example.test/library/busybox:latest"],
            Config = new ImageConfiguration { Architecture = "amd64", Os = "linux", Config = Config },
            LayerDirectories = [LayerDirectory],
            ImportTime = DateTimeOffset.UtcNow,
            LastUsed = DateTimeOffset.UtcNow,
            Size = new FileInfo("/bin/busybox").Length,
        };
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
