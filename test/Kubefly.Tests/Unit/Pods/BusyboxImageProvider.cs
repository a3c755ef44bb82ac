using System.Security.Cryptography;
using System.Text;
using Kubefly.Images;
using Kubefly.Oci;
using Kubefly.Pods;
using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Unit.Pods;

/// <summary>
/// A stand-in for the image store in pod tests: one layer directory holding Debian's busybox-static
/// (/bin/busybox plus its applet links) and /etc/passwd, /etc/group with root and user 1000.
/// </summary>
public sealed class BusyboxImageProvider : IPodImageProvider, IDisposable
{
    public BusyboxImageProvider(ContainerConfig? config = null)
    {
        Root = Directory.CreateTempSubdirectory("kubefly-busybox-").FullName;
        LayerDirectory = Path.Combine(Root, "layer");
        Config = config ?? new ContainerConfig { Cmd = ["sh"], Env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] };
        ProgramRunner.Shell($"""
            set -e
            mkdir -p '{LayerDirectory}/bin' '{LayerDirectory}/etc' '{LayerDirectory}/tmp'
            cp /bin/busybox '{LayerDirectory}/bin/busybox'
            for applet in $(/bin/busybox --list); do [ -e '{LayerDirectory}/bin/'$applet ] || ln -s busybox '{LayerDirectory}/bin/'$applet; done
            printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' > '{LayerDirectory}/etc/passwd'
            printf 'root:x:0:\nuser:x:1000:\n' > '{LayerDirectory}/etc/group'
            """);
    }

    public string Root { get; }

    public string LayerDirectory { get; }

    public ContainerConfig Config { get; }

    public List<(string Image, PullPolicy Policy, InsecureOptions Insecure)> Requests { get; } = [];

    public StoredImage AcquireAndPin(string image, PullPolicy policy, InsecureOptions insecure, PodUuid pod, string podsDirectory)
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
