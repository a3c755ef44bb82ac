using Kubefly.Fly;
using Kubefly.Linux;

namespace Kubefly.Tests.Unit.Fly;

public sealed class MountPlannerTests
{
    private const string Table = """
        27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
        22 27 0:21 / /proc rw,relatime shared:2 - proc proc rw
        40 27 0:40 / /var/lib/kubelet rw,relatime shared:7 - ext4 /dev/vda rw
        41 40 0:41 / /var/lib/kubelet/pods/x rw,relatime shared:8 - tmpfs tmpfs rw
        42 27 0:42 / /var/lib/kubelet-other rw,relatime shared:9 - tmpfs tmpfs rw
        43 27 0:43 / /srv/private rw,relatime - tmpfs tmpfs rw
        """;

    private static readonly IReadOnlyList<MountInfoEntry> Mounts = MountInfo.Parse(Table);

    private static FlyPlan Plan(params FlyMount[] mounts) => new()
    {
        PodDirectory = "/var/lib/kubefly/pods/run/p",
        LowerDirectories = ["/store/l1", "/store/l2"],
        UpperDirectory = "/var/lib/kubefly/pods/run/p/upper",
        WorkDirectory = "/var/lib/kubefly/pods/run/p/work",
        RootfsDirectory = "/var/lib/kubefly/pods/run/p/rootfs",
        Arguments = ["/app"],
        Environment = [],
        Mounts = mounts,
    };

    [Fact]
    public void WithoutRSharedVolumesTheWholeTreeBecomesASlaveAtOnce()
    {
        var changes = MountPlanner.PlanPropagation(Plan(new FlyMount { Source = "/srv", Target = "/srv" }), Mounts);

        Assert.Equal([new PropagationChange("/", Interop.MS_REC | Interop.MS_SLAVE)], changes);
    }

    [Theory]
    [InlineData("/var/lib/kubelet")]
    [InlineData("/var/lib/kubelet/pods/x/deeper")]
    [InlineData("/srv/plain-directory-on-shared-root")]
    public void RSharedSourcesOnASharedMountNeedNoMountPointOfTheirOwnAndTheTreeStillBecomesASlaveAtOnce(string source)
    {
        var plan = Plan(new FlyMount { Source = source, Target = "/var/lib/kubelet", Propagation = MountPropagation.RShared, VolumeName = "kubelet" });

        var changes = MountPlanner.PlanPropagation(plan, Mounts);

        Assert.Equal([new PropagationChange("/", Interop.MS_REC | Interop.MS_SLAVE)], changes);
    }

    [Theory]
    [InlineData("/srv/private", "/srv/private, which is not shared")]
    [InlineData("/srv/private/below", "/srv/private, which is not shared")]
    public void AnRSharedSourceMustLieOnASharedMount(string source, string why)
    {
        var plan = Plan(new FlyMount { Source = source, Target = "/x", Propagation = MountPropagation.RShared, VolumeName = "v" });

        var error = Assert.Throws<FlyException>(() => MountPlanner.PlanPropagation(plan, Mounts));

        Assert.Contains($"volume v: propagation=rshared needs {source} to lie on a shared mount of the host", error.Message, StringComparison.Ordinal);
        Assert.Contains(why, error.Message, StringComparison.Ordinal);
        Assert.Contains("mount --make-rshared /srv/private", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AsOnHostVolumesNeedNoMountTableAtAll()
    {
        var plan = Plan(new FlyMount { Source = "/srv/private", Target = "/x", Propagation = MountPropagation.AsOnHost, VolumeName = "v" });

        Assert.Equal([new PropagationChange("/", Interop.MS_REC | Interop.MS_SLAVE)], MountPlanner.PlanPropagation(plan, []));
    }

    [Fact]
    public void TheContainingMountIsTheLongestMountPointAboveThePathNotAPrefixOfItsName()
    {
        Assert.Equal("/var/lib/kubelet", MountPlanner.ContainingMount(Mounts, "/var/lib/kubelet/a")!.MountPoint);
        Assert.Equal("/", MountPlanner.ContainingMount(Mounts, "/var/lib/kubelet-x")!.MountPoint);
        Assert.Equal("/var/lib/kubelet-other", MountPlanner.ContainingMount(Mounts, "/var/lib/kubelet-other")!.MountPoint);
        Assert.Null(MountPlanner.ContainingMount([], "/a"));
    }

    /// <summary>
    /// Found in review: under a /run volume that keeps the host's shared propagation, the notify socket's
    /// bind (or any nested volume) would appear on the host and stack up with every restart.
    /// </summary>
    [Theory]
    [InlineData("notify", PlannedMountKind.Bind)]
    [InlineData("nested volume", PlannedMountKind.Bind)]
    [InlineData("sibling volume", PlannedMountKind.HostTree)]
    [InlineData("nothing", PlannedMountKind.HostTree)]
    public void AVolumeWithTheFlyStagesOwnMountsUnderItBecomesASlaveUnlessRSharedWasAsked(string underneath, PlannedMountKind expected)
    {
        var run = new FlyMount { Source = "/run", Target = "/run", Propagation = MountPropagation.AsOnHost, VolumeName = "run" };
        var plan = Plan(run) with { NotifySocketTarget = underneath == "notify" ? "/run/systemd/notify" : null };
        plan = underneath switch
        {
            "nested volume" => plan with { Mounts = [run, new FlyMount { Source = "/srv/sock", Target = "/run/docker.sock", VolumeName = "sock" }] },
            "sibling volume" => plan with { Mounts = [run, new FlyMount { Source = "/srv/x", Target = "/runner", VolumeName = "x" }] },
            _ => plan,
        };

        var planned = MountPlanner.PlanMounts(plan, notifySocket: "/run/systemd/notify").Single(m => m.Target == "/run");
        var asked = MountPlanner.PlanMounts(plan with { Mounts = [run with { Propagation = MountPropagation.RShared }, .. plan.Mounts.Skip(1)] }, "/run/systemd/notify").Single(m => m.Target == "/run");

        Assert.Equal(expected, planned.Kind);
        Assert.Equal(expected == PlannedMountKind.Bind ? Interop.MS_SLAVE : 0UL, planned.PropagationFlags);
        Assert.Equal(PlannedMountKind.HostTree, asked.Kind);
    }

    [Fact]
    public void MountsComeInOrderSystemThenTmpThenVolumesShallowFirst()
    {
        var plan = Plan(
            new FlyMount { Source = "/h/c", Target = "/a/b/c", VolumeName = "deep" },
            new FlyMount { Source = "/h/a", Target = "/a", VolumeName = "shallow" },
            new FlyMount { Source = "/h/b", Target = "//a/./b", VolumeName = "middle" });

        var mounts = MountPlanner.PlanMounts(plan, notifySocket: null);

        Assert.Equal(["/proc", "/sys", "/dev", "/tmp", "/a", "/a/b", "/a/b/c"], mounts.Select(m => m.Target));
        Assert.All(mounts.Take(3), m => Assert.Equal((Interop.MS_BIND | Interop.MS_REC, Interop.MS_SLAVE | Interop.MS_REC), (m.Flags, m.PropagationFlags)));
        var tmp = mounts[3];
        Assert.Equal((PlannedMountKind.NewFileSystem, "tmpfs", "mode=1777"), (tmp.Kind, tmp.FileSystemType, tmp.Data));
        Assert.Equal(Interop.MS_NOSUID | Interop.MS_NODEV, tmp.Flags);
    }

    [Theory]
    [InlineData(MountPropagation.RSlave, false, 0x1000UL, 0x80000UL)]
    [InlineData(MountPropagation.RSlave, true, 0x5000UL, 0x84000UL)]
    [InlineData(MountPropagation.Private, false, 0x1000UL, 0x40000UL)]
    [InlineData(MountPropagation.Private, true, 0x5000UL, 0x44000UL)]
    [InlineData(MountPropagation.RShared, true, 0x4000UL, 0UL)]
    [InlineData(MountPropagation.RShared, false, 0UL, 0UL)]
    [InlineData(MountPropagation.AsOnHost, true, 0x4000UL, 0UL)]
    [InlineData(MountPropagation.AsOnHost, false, 0UL, 0UL)]
    public void VolumeFlagsFollowRecursionAndPropagation(MountPropagation propagation, bool recursive, ulong flags, ulong propagationFlags)
    {
        var plan = Plan(new FlyMount { Source = "/h", Target = "/v", Recursive = recursive, Propagation = propagation, VolumeName = "v" });

        var volume = MountPlanner.PlanMounts(plan, null).Single(m => m.Target == "/v");

        var keepsHostPropagation = propagation is MountPropagation.RShared or MountPropagation.AsOnHost;
        Assert.Equal(keepsHostPropagation ? PlannedMountKind.HostTree : PlannedMountKind.Bind, volume.Kind);
        Assert.Equal(flags, volume.Flags);
        Assert.Equal(propagationFlags, volume.PropagationFlags);
        Assert.Equal("volume v", volume.Purpose);
    }

    [Theory]
    [InlineData(false, false, false, false)]
    [InlineData(true, false, true, false)]
    [InlineData(true, true, true, true)]
    [InlineData(false, true, false, false)]
    public void ReadOnlyIsRecursiveOnlyForRecursiveVolumes(bool readOnly, bool recursive, bool expectReadOnly, bool expectRecursiveReadOnly)
    {
        var plan = Plan(new FlyMount { Source = "/h", Target = "/v", ReadOnly = readOnly, Recursive = recursive });

        var volume = MountPlanner.PlanMounts(plan, null).Single(m => m.Target == "/v");

        Assert.Equal((expectReadOnly, expectRecursiveReadOnly), (volume.ReadOnly, volume.ReadOnlyRecursive));
    }

    [Theory]
    [InlineData("relative/path", "target must be an absolute path")]
    [InlineData("/", "cannot mount over the rootfs itself")]
    [InlineData("//./", "cannot mount over the rootfs itself")]
    public void BadTargetsAreRefused(string target, string message)
    {
        var error = Assert.Throws<FlyException>(() => MountPlanner.PlanMounts(Plan(new FlyMount { Source = "/h", Target = target, VolumeName = "v" }), null));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DnsHostAndHostsHostBindTheHostFilesReadOnlyAfterVolumes()
    {
        var plan = Plan(new FlyMount { Source = "/h", Target = "/zzz/deep/deeper" }) with { Dns = ["host"], HostsEntries = ["host"] };

        var mounts = MountPlanner.PlanMounts(plan, null);

        Assert.Equal(["/etc/resolv.conf", "/etc/hosts"], mounts.TakeLast(2).Select(m => m.Target));
        Assert.All(mounts.TakeLast(2), m => Assert.True(m.ReadOnly && m.Source == m.Target));
        Assert.Empty(MountPlanner.PlanFiles(plan));
    }

    [Fact]
    public void NotifySocketIsBoundOnlyWhenTheHostHasOne()
    {
        var plan = Plan() with { NotifySocketTarget = "/run/notify" };

        Assert.DoesNotContain(MountPlanner.PlanMounts(plan, null), m => m.Purpose == "NOTIFY_SOCKET");
        var bind = Assert.Single(MountPlanner.PlanMounts(plan, "/run/systemd/notify"), m => m.Purpose == "NOTIFY_SOCKET");
        Assert.Equal(("/run/systemd/notify", "/run/notify"), (bind.Source, bind.Target));
    }

    [Fact]
    public void DnsAddressesBecomeAResolvConf()
    {
        var file = Assert.Single(MountPlanner.PlanFiles(Plan() with { Dns = ["1.1.1.1", "fd00::1"], HostsEntries = ["host"] }));

        Assert.Equal(new PlannedFile("/etc/resolv.conf", "nameserver 1.1.1.1\nnameserver fd00::1\n", false, "dns"), file);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("host")]
    public void DnsNoneAndHostWriteNoResolvConf(string dns) =>
        Assert.DoesNotContain(MountPlanner.PlanFiles(Plan() with { Dns = [dns] }), f => f.Target == "/etc/resolv.conf");

    [Theory]
    [InlineData(new[] { "not-an-ip" }, "dns: not an IP address: not-an-ip")]
    [InlineData(new[] { "host", "1.1.1.1" }, "cannot be combined")]
    public void BadDnsIsRefused(string[] dns, string message) =>
        Assert.Contains(message, Assert.Throws<FlyException>(() => MountPlanner.PlanFiles(Plan() with { Dns = dns })).Message, StringComparison.Ordinal);

    [Fact]
    public void WithoutHostsEntriesALocalhostHostsIsWrittenOnlyIfTheImageHasNone()
    {
        var file = Assert.Single(MountPlanner.PlanFiles(Plan()));

        Assert.Equal(new PlannedFile("/etc/hosts", "127.0.0.1 localhost\n", true, "default hosts"), file);
    }

    [Fact]
    public void HostsEntriesAreWrittenAfterTheLocalhostLines()
    {
        var file = Assert.Single(MountPlanner.PlanFiles(Plan() with { HostsEntries = ["10.0.0.2=db", "10.0.0.3=cache"] }));

        Assert.Equal("127.0.0.1 localhost\n::1 localhost\n10.0.0.2 db\n10.0.0.3 cache\n", file.Content);
        Assert.False(file.OnlyIfMissing);
    }

    [Theory]
    [InlineData("db")]
    [InlineData("10.0.0.2=")]
    [InlineData("nope=db")]
    public void BadHostsEntriesAreRefused(string entry) =>
        Assert.Throws<FlyException>(() => MountPlanner.PlanFiles(Plan() with { HostsEntries = [entry] }));

    [Fact]
    public void ReadOnlyRemountKeepsTheMountsOwnFlags()
    {
        var entry = MountInfo.ParseLine("50 27 0:50 / /x rw,nosuid,nodev,noexec,relatime shared:3 - tmpfs tmpfs rw");

        var flags = MountPlanner.ReadOnlyRemountFlags(entry);

        Assert.Equal("MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_REMOUNT|MS_BIND", Interop.DescribeMountFlags(flags & ~0x200000UL));
        Assert.Equal(0x200000UL, flags & 0x200000UL);
    }

    [Fact]
    public void SubmountsAreThoseStrictlyBelowAMountPoint()
    {
        var below = MountPlanner.Submounts(Mounts, "/var/lib/kubelet");

        Assert.Equal(["/var/lib/kubelet/pods/x"], below.Select(m => m.MountPoint));
    }

    [Fact]
    public void TheWholePlanPutsTheOverlayOnTheRootfs()
    {
        var plan = MountPlanner.Plan(Plan(), Mounts, null);

        Assert.Equal("/var/lib/kubefly/pods/run/p/rootfs", plan.Overlay.Target);
        Assert.StartsWith("lowerdir=/store/l2:/store/l1,", plan.Overlay.Data, StringComparison.Ordinal);
    }
}
