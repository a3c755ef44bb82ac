using Kubefly.Fly;

namespace Kubefly.Tests.Integration.Fly;

/// <summary>Nothing a pod mounts reaches the host, except under a volume that keeps the host's shared propagation, where it must.</summary>
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

    /// <summary>
    /// rkt fly's contract (its binds were made in the host's namespace): a host volume whose source is a
    /// plain directory on a shared mount propagates the app's mounts and unmounts under it to the host,
    /// and the host's into the pod, with no mount point made on the host for it.
    /// </summary>
    [Theory]
    [InlineData(MountPropagation.AsOnHost, true)]
    [InlineData(MountPropagation.AsOnHost, false)]
    [InlineData(MountPropagation.RShared, true)]
    public void AVolumeFromAPlainDirectoryOnASharedMountPropagatesBothWays(MountPropagation propagation, bool recursive)
    {
        var kubelet = _workspace.Volume("kubelet");
        Directory.CreateDirectory(Path.Combine(kubelet, "orphaned"));
        Directory.CreateDirectory(Path.Combine(kubelet, "from-host"));
        Infrastructure.ProgramRunner.Shell($"mount -t tmpfs host-orphan {kubelet}/orphaned");
        var hostMountsBefore = File.ReadAllText("/proc/self/mountinfo");
        Assert.DoesNotContain(HostMountTable.Read(), m => m.MountPoint == kubelet);
        var plan = _workspace.Plan("sh", "-c", "mkdir -p /var/lib/kubelet/secret && mount -t tmpfs pod-secret /var/lib/kubelet/secret && umount /var/lib/kubelet/orphaned && touch /var/lib/kubelet/ready && exec sleep 600") with
        {
            Mounts = [new FlyMount { Source = kubelet, Target = "/var/lib/kubelet", Recursive = recursive, Propagation = propagation, VolumeName = "kubelet" }],
        };
        if (!recursive)
        {
            // Without recursion the pod does not see the host's submount, so it has nothing to unmount.
            plan = plan with { Arguments = ["sh", "-c", "mkdir -p /var/lib/kubelet/secret && mount -t tmpfs pod-secret /var/lib/kubelet/secret && touch /var/lib/kubelet/ready && exec sleep 600"] };
        }

        var pod = _workspace.Start(plan, Path.Combine(kubelet, "ready"));
        try
        {
            Assert.Contains(HostMountTable.Read(), m => m.MountPoint == Path.Combine(kubelet, "secret") && m.Source == "pod-secret");
            if (recursive)
            {
                Assert.DoesNotContain(HostMountTable.Read(), m => m.MountPoint == Path.Combine(kubelet, "orphaned"));
            }

            Infrastructure.ProgramRunner.Shell($"mount -t tmpfs host-tmpfs {kubelet}/from-host");
            Assert.Contains(HostMountTable.OfProcess(pod.Id), m => m.MountPoint == "/var/lib/kubelet/from-host" && m.Source == "host-tmpfs");

            // Only what the app mounts under the volume reaches the host: never the rootfs, /tmp, /proc, ...
            Assert.DoesNotContain(_workspace.HostMountsInside(), m => !MountPlanner.IsAtOrUnder(m.MountPoint, kubelet));
            Assert.DoesNotContain(HostMountTable.Read(), m => m.MountPoint == kubelet);
        }
        finally
        {
            FlyWorkspace.Stop(pod);
        }

        // The app's mount outlives the app on the host, as the kubelet's pod volumes must.
        Assert.Contains(HostMountTable.Read(), m => m.MountPoint == Path.Combine(kubelet, "secret") && m.Source == "pod-secret");
        Assert.DoesNotContain(_workspace.HostMountsInside(), m => !MountPlanner.IsAtOrUnder(m.MountPoint, kubelet));
        Assert.NotEqual(hostMountsBefore, File.ReadAllText("/proc/self/mountinfo"));
    }

    /// <summary>A volume nested in a shared one is the pod's own mount: it never lands on the host.</summary>
    [Fact]
    public void AVolumeNestedInASharedOneNeverReachesTheHost()
    {
        var outer = _workspace.Volume("outer");
        var inner = _workspace.Volume("inner");
        Directory.CreateDirectory(Path.Combine(outer, "inner"));
        var plan = _workspace.Plan("sh", "-c", "touch /vol/inner/ready && exec sleep 600") with
        {
            Mounts =
            [
                new FlyMount { Source = outer, Target = "/vol", Propagation = MountPropagation.AsOnHost, VolumeName = "outer" },
                new FlyMount { Source = inner, Target = "/vol/inner", VolumeName = "inner" },
            ],
        };

        var pod = _workspace.Start(plan, Path.Combine(inner, "ready"));
        try
        {
            Assert.DoesNotContain(HostMountTable.Read(), m => m.MountPoint == Path.Combine(outer, "inner"));
            Assert.Contains(HostMountTable.OfProcess(pod.Id), m => m.MountPoint == "/vol/inner");
        }
        finally
        {
            FlyWorkspace.Stop(pod);
        }

        Assert.DoesNotContain(_workspace.HostMountsInside(), m => m.MountPoint.StartsWith(outer, StringComparison.Ordinal));
    }

    [Fact]
    public void AsOnHostOnAPrivateMountPropagatesNeitherWay()
    {
        var data = _workspace.Volume("data");
        Infrastructure.ProgramRunner.Shell($"mount --bind {data} {data} && mount --make-private {data} && mkdir -p {data}/plain/from-host {data}/plain/from-pod");
        var source = Path.Combine(data, "plain");
        var plan = _workspace.Plan("sh", "-c", "mount -t tmpfs pod-tmpfs /vol/from-pod && touch /vol/ready && exec sleep 600") with
        {
            Mounts = [new FlyMount { Source = source, Target = "/vol", Propagation = MountPropagation.AsOnHost, VolumeName = "data" }],
        };

        var pod = _workspace.Start(plan, Path.Combine(source, "ready"));
        try
        {
            Infrastructure.ProgramRunner.Shell($"mount -t tmpfs host-tmpfs {source}/from-host");
            Assert.DoesNotContain(HostMountTable.Read(), m => m.Source == "pod-tmpfs");
            Assert.DoesNotContain(HostMountTable.OfProcess(pod.Id), m => m.MountPoint == "/vol/from-host");
            Assert.Contains(HostMountTable.OfProcess(pod.Id), m => m.MountPoint == "/vol" && !m.IsShared && !m.IsSlave);
        }
        finally
        {
            FlyWorkspace.Stop(pod);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AReadOnlyVolumeThatKeepsTheHostsPropagationIsReadOnlyWithItsSubmounts(bool recursive)
    {
        var data = _workspace.Volume("ro");
        Directory.CreateDirectory(Path.Combine(data, "sub"));
        Infrastructure.ProgramRunner.Shell($"mount -t tmpfs host-sub {data}/sub");
        var plan = _workspace.Plan("sh", "-c", "touch /vol/top 2>/dev/null && echo top-writable; touch /vol/sub/x 2>/dev/null && echo sub-writable; grep -c ' /vol' /proc/self/mountinfo") with
        {
            Mounts = [new FlyMount { Source = data, Target = "/vol", ReadOnly = true, Recursive = recursive, Propagation = MountPropagation.AsOnHost, VolumeName = "ro" }],
        };

        var result = _workspace.Run(plan);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("top-writable", result.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("sub-writable", result.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(recursive ? "2" : "1", result.StandardOutput.Trim().Split('\n')[^1]);
        Assert.False(File.Exists(Path.Combine(data, "top")));
    }

    [Fact]
    public void RSharedNeedsASourceOnASharedMount()
    {
        var data = _workspace.Volume("private");
        Infrastructure.ProgramRunner.Shell($"mount --bind {data} {data} && mount --make-private {data} && mkdir -p {data}/below");
        var plan = _workspace.Plan("true") with
        {
            Mounts = [new FlyMount { Source = Path.Combine(data, "below"), Target = "/vol", Propagation = MountPropagation.RShared, VolumeName = "plain" }],
        };

        var result = _workspace.Run(plan);

        Assert.Equal(254, result.ExitCode);
        Assert.Contains($"propagation=rshared needs {data}/below to lie on a shared mount of the host (it lies on {data}, which is not shared", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain(_workspace.HostMountsInside(), m => m.MountPoint != data);
    }

    private static IEnumerable<string> Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private bool Mentions(string line) => line.Contains(_workspace.Root, StringComparison.Ordinal);
}
