using Kubefly.Fly;
using Kubefly.Oci;
using Kubefly.Pods;

namespace Kubefly.Tests.Unit.Pods;

/// <summary>pod.json through the pod store: what `run` writes is what stop, status and list read back.</summary>
public sealed class PodRecordFormatTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("kubefly-podrecord-").FullName;
    private readonly PodStore store;

    public PodRecordFormatTests() => store = new PodStore(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_written_record_reads_back_field_for_field(bool withOptionalFields)
    {
        using var pod = store.Create();
        var written = new PodRecord
        {
            Uuid = pod.Uuid.Value,
            AppName = "hyperkube",
            Image = "quay.io/coreos/hyperkube:v1.5.4_coreos.0",
            ImageName = "quay.io/coreos/hyperkube:v1.5.4_coreos.0",
            ManifestDigest = Digest.Compute("m"u8).ToString(),
            CreatedAt = new DateTimeOffset(2026, 11, 26, 10, 0, 0, 5, TimeSpan.Zero),
            UuidFile = withOptionalFields ? "/var/run/kubelet-pod.uuid" : null,
            LowerDirectories = ["/var/lib/kubefly/images/layers/sha256/a", "/var/lib/kubefly/images/layers/sha256/b"],
            Arguments = ["/kubelet", "--api-servers=http://127.0.0.1:8080", "with \"quotes\" and ünïcode"],
            Environment = ["PATH=/bin", "EMPTY="],
            WorkingDirectory = "/",
            User = withOptionalFields ? "1000" : null,
            Group = withOptionalFields ? "wheel" : null,
            Mounts = withOptionalFields
                ?
                [
                    new PodMountRecord { Volume = "kubelet", Source = "/var/lib/kubelet", Target = "/var/lib/kubelet", Recursive = true, Propagation = MountPropagation.RShared },
                    new PodMountRecord { Volume = "cache", Source = "volumes/cache", SourceInPod = true, Target = "/cache", ReadOnly = true, Propagation = MountPropagation.Private },
                    new PodMountRecord { Volume = "logs", Source = "/var/log", Target = "/var/log", Propagation = MountPropagation.RSlave },
                ]
                : [],
            Dns = withOptionalFields ? ["10.0.0.10", "host"] : null,
            HostsEntries = withOptionalFields ? ["host"] : [],
        };
        pod.WriteRecord(written);

        using var seen = store.Open(pod.Uuid)!;
        var read = seen.Record!;

        Assert.Equal(written.Uuid, read.Uuid);
        Assert.Equal(written.AppName, read.AppName);
        Assert.Equal(written.Image, read.Image);
        Assert.Equal(written.ImageName, read.ImageName);
        Assert.Equal(written.ManifestDigest, read.ManifestDigest);
        Assert.Equal(written.CreatedAt, read.CreatedAt);
        Assert.Equal(written.UuidFile, read.UuidFile);
        Assert.Equal(written.LowerDirectories, read.LowerDirectories);
        Assert.Equal(written.Arguments, read.Arguments);
        Assert.Equal(written.Environment, read.Environment);
        Assert.Equal(written.WorkingDirectory, read.WorkingDirectory);
        Assert.Equal(written.User, read.User);
        Assert.Equal(written.Group, read.Group);
        Assert.Equal(written.Mounts, read.Mounts);
        Assert.Equal(written.Dns, read.Dns);
        Assert.Equal(written.HostsEntries, read.HostsEntries);
    }

    [Fact]
    public void An_unreadable_record_names_the_pod()
    {
        using var pod = store.Create();
        File.WriteAllText(Path.Combine(pod.Path, PodPaths.Record), """{"uuid":"x","mounts":[{"volume":"v","source":"/s","target":"/t","propagation":"Sideways"}]}""");

        using var seen = store.Open(pod.Uuid)!;
        var error = Assert.Throws<KubeflyException>(() => seen.Record);

        Assert.Contains($"pod \"{pod.Uuid}\": unreadable pod.json", error.Message, StringComparison.Ordinal);
        Assert.Contains("unknown mount propagation \"Sideways\"", error.Message, StringComparison.Ordinal);
    }
}
