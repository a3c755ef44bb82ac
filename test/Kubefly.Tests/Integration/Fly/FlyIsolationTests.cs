using Kubefly.Fly;

namespace Kubefly.Tests.Integration.Fly;

/// <summary>Nothing a pod mounts reaches the host, except under an rshared volume, where it must.</summary>
[Trait("Category", "Integration")]
public sealed class FlyIsolationTests : IDisposable
{
    private readonly FlyWorkspace _workspace = new();

    public void Dispose() => _workspace.Dispose();

    [Fact]
    public void HostMountTableIsUnchangedAfterAPodRan()
    {
        var data = _workspace.Volume("data");
        var plan = _workspace.Plan("/probe") with
        {
            Mounts = [new FlyMount { Source = data, Target = "/data", ReadOnly = true, Recursive = true, VolumeName = "data" }],
        };
        var before = File.ReadAllText("/proc/self/mountinfo");

        var result = _workspace.Run(plan);

        Assert.True(result.ExitCode == 0, result.ToString());
        var inside = new ProbeReport(result.StandardOutput).Mounts;
        Assert.Contains(inside, m => m.MountPoint == "/data");
        Assert.Contains(inside, m => m.MountPoint == "/tmp" && m.FileSystemType == "tmpfs");
        Assert.Empty(_workspace.HostMountsInside());
        Assert.Equal(Lines(before).Where(Mentions).ToList(), Lines(File.ReadAllText("/proc/self/mountinfo")).Where(Mentions).ToList());
    }

    [Fact]
    public void NothingLeaksWhileAPodRuns()
    {
        var data = _workspace.Volume("data");
        var plan = _workspace.Plan("sh", "-c", "touch /data/ready; exec sleep 600") with
        {
            Mounts = [new FlyMount { Source = data, Target = "/data", VolumeName = "data" }],
        };

        var pod = _workspace.Start(plan, Path.Combine(data, "ready"));

        var inside = HostMountTable.OfProcess(pod.Id);
        Assert.Contains(inside, m => m.MountPoint == "/" && m.FileSystemType == "overlay");
        Assert.Contains(inside, m => m.MountPoint == "/data");
        Assert.Contains(inside, m => m.MountPoint == "/proc");
        Assert.Empty(_workspace.HostMountsInside());
        Assert.DoesNotContain(HostMountTable.Read(), m => m.FileSystemType == "overlay" && m.SuperOptions.Contains(_workspace.UpperDirectory, StringComparison.Ordinal));
        FlyWorkspace.Stop(pod);
        Assert.Empty(_workspace.HostMountsInside());
    }

    [Fact]
    public void RSlaveVolumeReceivesHostMountsAndLeaksNothing()
    {
        var shared = _workspace.SharedVolume("kubelet");
        Directory.CreateDirectory(Path.Combine(shared, "from-host"));
        var plan = _workspace.Plan("sh", "-c", "mkdir -p /vol/from-pod && mount -t tmpfs pod-tmpfs /vol/from-pod && touch /vol/ready && exec sleep 600") with
        {
            Mounts = [new FlyMount { Source = shared, Target = "/vol", Recursive = true, VolumeName = "kubelet" }],
        };

        var pod = _workspace.Start(plan, Path.Combine(shared, "ready"));
        try
        {
            Assert.DoesNotContain(HostMountTable.Read(), m => m.MountPoint == Path.Combine(shared, "from-pod"));
            Assert.Contains(HostMountTable.OfProcess(pod.Id), m => m.MountPoint == "/vol/from-pod");

            Infrastructure.ProgramRunner.Shell($"mount -t tmpfs host-tmpfs {shared}/from-host");
            Assert.Contains(HostMountTable.OfProcess(pod.Id), m => m.MountPoint == "/vol/from-host" && m.Source == "host-tmpfs");
        }
        finally
        {
            FlyWorkspace.Stop(pod);
        }

        Assert.DoesNotContain(HostMountTable.Read(), m => m.Source == "pod-tmpfs");
    }

    [Fact]
    public void RSharedVolumePropagatesBothWays()
    {
        var shared = _workspace.SharedVolume("kubelet");
        Directory.CreateDirectory(Path.Combine(shared, "from-host"));
        var plan = _workspace.Plan("sh", "-c", "mkdir -p /vol/from-pod && mount -t tmpfs pod-tmpfs /vol/from-pod && touch /vol/ready && exec sleep 600") with
        {
            Mounts = [new FlyMount { Source = shared, Target = "/vol", Recursive = true, Propagation = MountPropagation.RShared, VolumeName = "kubelet" }],
        };

        var pod = _workspace.Start(plan, Path.Combine(shared, "ready"));
        try
        {
            Assert.Contains(HostMountTable.Read(), m => m.MountPoint == Path.Combine(shared, "from-pod") && m.Source == "pod-tmpfs");

            Infrastructure.ProgramRunner.Shell($"mount -t tmpfs host-tmpfs {shared}/from-host");
            Assert.Contains(HostMountTable.OfProcess(pod.Id), m => m.MountPoint == "/vol/from-host" && m.Source == "host-tmpfs");

            // Only the volume is shared: the rootfs and the pod's other mounts stay inside.
            Assert.DoesNotContain(_workspace.HostMountsInside(), m => !MountPlanner.IsAtOrUnder(m.MountPoint, shared));
        }
        finally
        {
            FlyWorkspace.Stop(pod);
            Infrastructure.ProgramRunner.Run("/bin/umount", ["-l", Path.Combine(shared, "from-pod")]);
        }
    }

    [Fact]
    public void PrivateVolumeReceivesNothingFromTheHost()
    {
        var shared = _workspace.SharedVolume("data");
        Directory.CreateDirectory(Path.Combine(shared, "from-host"));
        var plan = _workspace.Plan("sh", "-c", "touch /vol/ready && exec sleep 600") with
        {
            Mounts = [new FlyMount { Source = shared, Target = "/vol", Propagation = MountPropagation.Private, VolumeName = "data" }],
        };

        var pod = _workspace.Start(plan, Path.Combine(shared, "ready"));
        try
        {
            Infrastructure.ProgramRunner.Shell($"mount -t tmpfs host-tmpfs {shared}/from-host");
            Assert.Contains(HostMountTable.Read(), m => m.MountPoint == Path.Combine(shared, "from-host"));
            Assert.DoesNotContain(HostMountTable.OfProcess(pod.Id), m => m.MountPoint == "/vol/from-host");
            Assert.Contains(HostMountTable.OfProcess(pod.Id), m => m.MountPoint == "/vol" && !m.IsShared && !m.IsSlave);
        }
        finally
        {
            FlyWorkspace.Stop(pod);
        }
    }

    [Fact]
    public void RSharedNeedsASharedMountPoint()
    {
        var plain = _workspace.Volume("plain");
        var plan = _workspace.Plan("true") with
        {
            Mounts = [new FlyMount { Source = plain, Target = "/vol", Propagation = MountPropagation.RShared, VolumeName = "plain" }],
        };

        var result = _workspace.Run(plan);

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("propagation=rshared needs " + plain + " to be a shared mount point", result.StandardError, StringComparison.Ordinal);
        Assert.Empty(_workspace.HostMountsInside());
    }

    private static IEnumerable<string> Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private bool Mentions(string line) => line.Contains(_workspace.Root, StringComparison.Ordinal);
}
