using System.Text;
using Kubefly.Linux;

namespace Kubefly.Fly;

/// <summary>
/// Decides the mounts of a pod: which propagation changes, the overlay, every mount inside the rootfs
/// in order with its flags, and the files to write. Pure: it reads no files, so it is unit-tested
/// against any mount table; <see cref="FlyStage"/> applies the result.
/// </summary>
public static class MountPlanner
{
    /// <summary>The host filesystems every pod sees, rbound and made slaves (rkt fly bound the same three).</summary>
    public static readonly IReadOnlyList<string> SystemMounts = ["/proc", "/sys", "/dev"];

    /// <param name="plan">The plan; host sources are expected canonical (symlinks resolved) so they compare with the mount table.</param>
    /// <param name="mountTable">The mount table of the new namespace before any change (it equals the host's).</param>
    /// <param name="notifySocket">The host's NOTIFY_SOCKET path when it names a socket file, else null.</param>
    public static MountPlan Plan(FlyPlan plan, IReadOnlyList<MountInfoEntry> mountTable, string? notifySocket)
    {
        var rootfs = Normalize(plan.RootfsDirectory);
        return new MountPlan(
            PlanPropagation(plan, mountTable),
            OverlayOptions.Plan(rootfs, plan.LowerDirectories, plan.UpperDirectory, plan.WorkDirectory, Path.Combine(plan.PodDirectory, "overlay-lower")),
            PlanMounts(plan, notifySocket),
            PlanFiles(plan));
    }

    /// <summary>
    /// Phase 1: one MS_REC|MS_SLAVE on "/", so nothing the pod mounts reaches the host. Host volumes that
    /// keep the host's propagation (rshared, as-on-host) are cloned before this step (see
    /// <see cref="PlannedMountKind.HostTree"/>), so the slave step does not touch them. An explicit rshared
    /// volume must lie on a shared mount of the host: otherwise it could not be bidirectional.
    /// </summary>
    public static IReadOnlyList<PropagationChange> PlanPropagation(FlyPlan plan, IReadOnlyList<MountInfoEntry> mountTable)
    {
        foreach (var mount in plan.Mounts.Where(m => m.Propagation == MountPropagation.RShared))
        {
            var source = Normalize(mount.Source);
            var containing = ContainingMount(mountTable, source);
            if (containing is null || !containing.IsShared)
            {
                throw new FlyException(
                    $"volume {mount.VolumeName}: propagation=rshared needs {source} to lie on a shared mount of the host " +
                    $"({(containing is null ? "no mount contains it" : $"it lies on {containing.MountPoint}, which is not shared")}; " +
                    $"make it shared with: mount --make-rshared {containing?.MountPoint ?? "/"}, or use the default propagation)");
            }
        }

        return [new PropagationChange("/", Interop.MS_REC | Interop.MS_SLAVE)];
    }

    /// <summary>The mount a path lies on: the last mounted at the longest mount point that contains it.</summary>
    public static MountInfoEntry? ContainingMount(IReadOnlyList<MountInfoEntry> mountTable, string path)
    {
        MountInfoEntry? best = null;
        foreach (var entry in mountTable)
        {
            if (IsAtOrUnder(path, entry.MountPoint) && (best is null || entry.MountPoint.Length >= best.MountPoint.Length))
            {
                best = entry;
            }
        }

        return best;
    }

    /// <summary>Mounts inside the rootfs in order: /proc /sys /dev, /tmp, volumes (shallow first), dns/hosts, notify socket.</summary>
    public static IReadOnlyList<PlannedMount> PlanMounts(FlyPlan plan, string? notifySocket)
    {
        var mounts = new List<PlannedMount>();
        foreach (var system in SystemMounts)
        {
            mounts.Add(new PlannedMount
            {
                Kind = PlannedMountKind.Bind,
                Source = system,
                Target = system,
                Flags = Interop.MS_BIND | Interop.MS_REC,
                PropagationFlags = Interop.MS_SLAVE | Interop.MS_REC,
                Purpose = system,
            });
        }

        mounts.Add(new PlannedMount
        {
            Kind = PlannedMountKind.NewFileSystem,
            Source = "tmpfs",
            Target = "/tmp",
            FileSystemType = "tmpfs",
            Flags = Interop.MS_NOSUID | Interop.MS_NODEV,
            Data = "mode=1777",
            Purpose = "/tmp",
        });

        var ownTargets = OwnMountTargets(plan, notifySocket);
        foreach (var planned in OrderVolumes(plan.Mounts))
        {
            var volume = WithoutLeakingNestedMounts(planned, ownTargets);
            if (!Path.IsPathRooted(volume.Source))
            {
                throw new FlyException($"volume {volume.VolumeName}: source must be an absolute path: {volume.Source}");
            }

            var recursive = volume.Recursive ? Interop.MS_REC : 0;
            var keepsHostPropagation = volume.Propagation is MountPropagation.RShared or MountPropagation.AsOnHost;
            mounts.Add(new PlannedMount
            {
                Kind = keepsHostPropagation ? PlannedMountKind.HostTree : PlannedMountKind.Bind,
                Source = volume.Source,
                Target = NormalizeTarget(volume.Target, $"volume {volume.VolumeName}"),
                Flags = keepsHostPropagation ? recursive : Interop.MS_BIND | recursive,
                ReadOnly = volume.ReadOnly,
                ReadOnlyRecursive = volume.ReadOnly && volume.Recursive,
                PropagationFlags = volume.Propagation switch
                {
                    MountPropagation.RShared or MountPropagation.AsOnHost => 0,
                    MountPropagation.Private => Interop.MS_PRIVATE | recursive,
                    _ => Interop.MS_SLAVE | recursive,
                },
                Purpose = $"volume {volume.VolumeName}",
            });
        }

        if (plan.Dns is ["host"])
        {
            mounts.Add(HostFileBind("/etc/resolv.conf", "dns=host"));
        }

        if (plan.HostsEntries is ["host"])
        {
            mounts.Add(HostFileBind("/etc/hosts", "hosts-entry=host"));
        }

        if (plan.NotifySocketTarget is not null && notifySocket is not null)
        {
            mounts.Add(new PlannedMount
            {
                Kind = PlannedMountKind.Bind,
                Source = notifySocket,
                Target = NormalizeTarget(plan.NotifySocketTarget, "NOTIFY_SOCKET"),
                Flags = Interop.MS_BIND,
                PropagationFlags = Interop.MS_SLAVE,
                Purpose = "NOTIFY_SOCKET",
            });
        }

        return mounts;
    }

    /// <summary>
    /// Every target the fly stage itself mounts inside the rootfs after the system mounts: volumes, the
    /// host's resolv.conf and hosts, the notify socket.
    /// </summary>
    private static List<string> OwnMountTargets(FlyPlan plan, string? notifySocket)
    {
        var targets = plan.Mounts.Select(m => NormalizeTarget(m.Target, $"volume {m.VolumeName}")).ToList();
        if (plan.Dns is ["host"])
        {
            targets.Add("/etc/resolv.conf");
        }

        if (plan.HostsEntries is ["host"])
        {
            targets.Add("/etc/hosts");
        }

        if (plan.NotifySocketTarget is not null && notifySocket is not null)
        {
            targets.Add(NormalizeTarget(plan.NotifySocketTarget, "NOTIFY_SOCKET"));
        }

        return targets;
    }

    /// <summary>
    /// A volume that keeps the host's propagation by default (rkt's rule) would carry to the host every
    /// mount the fly stage itself makes under it (a nested volume, the notify socket under /run), and
    /// each restart would stack another. Such a volume gets rslave instead: host mounts still come in,
    /// nothing goes out. An explicit propagation=rshared is the operator's choice and stays.
    /// </summary>
    internal static FlyMount WithoutLeakingNestedMounts(FlyMount volume, IReadOnlyList<string> ownTargets)
    {
        if (volume.Propagation != MountPropagation.AsOnHost)
        {
            return volume;
        }

        var target = NormalizeTarget(volume.Target, $"volume {volume.VolumeName}");
        return ownTargets.Any(other => other != target && IsAtOrUnder(other, target)) ? volume with { Propagation = MountPropagation.RSlave } : volume;
    }

    /// <summary>resolv.conf for --dns=IP..., /etc/hosts for --hosts-entry=IP=HOST or the localhost default.</summary>
    public static IReadOnlyList<PlannedFile> PlanFiles(FlyPlan plan)
    {
        var files = new List<PlannedFile>();
        if (plan.Dns is { Count: > 0 } dns && !(dns.Count == 1 && dns[0] is "host" or "none"))
        {
            if (dns.Any(d => d is "host" or "none"))
            {
                throw new FlyException($"dns: \"host\" and \"none\" cannot be combined with other values: {string.Join(',', dns)}");
            }

            var resolv = new StringBuilder();
            foreach (var server in dns)
            {
                if (!System.Net.IPAddress.TryParse(server, out _))
                {
                    throw new FlyException($"dns: not an IP address: {server}");
                }

                resolv.Append("nameserver ").Append(server).Append('\n');
            }

            files.Add(new PlannedFile("/etc/resolv.conf", resolv.ToString(), OnlyIfMissing: false, "dns"));
        }

        var hosts = plan.HostsEntries;
        if (hosts.Count == 0)
        {
            files.Add(new PlannedFile("/etc/hosts", "127.0.0.1 localhost\n", OnlyIfMissing: true, "default hosts"));
        }
        else if (hosts is not ["host"])
        {
            var content = new StringBuilder("127.0.0.1 localhost\n::1 localhost\n");
            foreach (var entry in hosts)
            {
                var separator = entry.IndexOf('=', StringComparison.Ordinal);
                if (entry == "host" || separator <= 0 || separator == entry.Length - 1)
                {
                    throw new FlyException($"hosts-entry: expected IP=HOSTNAME (or \"host\" alone): {entry}");
                }

                var address = entry[..separator];
                if (!System.Net.IPAddress.TryParse(address, out _))
                {
                    throw new FlyException($"hosts-entry: not an IP address: {address}");
                }

                content.Append(address).Append(' ').Append(entry[(separator + 1)..]).Append('\n');
            }

            files.Add(new PlannedFile("/etc/hosts", content.ToString(), OnlyIfMissing: false, "hosts-entry"));
        }

        return files;
    }

    /// <summary>Shallower targets first (a volume nested in another must be mounted after it); stable otherwise.</summary>
    /// <summary>
    /// Shallow targets first, then by target, otherwise in the order given (a stable sort, spelled out:
    /// OrderBy().ThenBy() is a generic virtual call that NativeAOT resolves slowly on first use, on every pod start).
    /// </summary>
    public static IReadOnlyList<FlyMount> OrderVolumes(IReadOnlyList<FlyMount> mounts)
    {
        var keyed = new (int Depth, string Target, int Index, FlyMount Mount)[mounts.Count];
        for (var i = 0; i < keyed.Length; i++)
        {
            keyed[i] = (Depth(mounts[i].Target), NormalizeTarget(mounts[i].Target, mounts[i].VolumeName), i, mounts[i]);
        }

        Array.Sort(keyed, static (a, b) =>
            a.Depth != b.Depth ? a.Depth.CompareTo(b.Depth)
            : string.CompareOrdinal(a.Target, b.Target) is var byTarget and not 0 ? byTarget
            : a.Index.CompareTo(b.Index));
        var ordered = new FlyMount[keyed.Length];
        for (var i = 0; i < keyed.Length; i++)
        {
            ordered[i] = keyed[i].Mount;
        }

        return ordered;
    }

    /// <summary>Lexical clean-up of "//" and "." only: ".." and symlinks are left to in-root resolution.</summary>
    public static string NormalizeTarget(string target, string purpose)
    {
        if (!target.StartsWith('/'))
        {
            throw new FlyException($"{purpose}: target must be an absolute path inside the rootfs: {target}");
        }

        var normalized = Normalize(target);
        if (normalized == "/")
        {
            throw new FlyException($"{purpose}: cannot mount over the rootfs itself: {target}");
        }

        return normalized;
    }

    /// <summary>Whether <paramref name="path"/> is <paramref name="ancestor"/> or below it (component-wise).</summary>
    public static bool IsAtOrUnder(string path, string ancestor) =>
        path == ancestor || ancestor == "/" || path.StartsWith(ancestor.TrimEnd('/') + "/", StringComparison.Ordinal);

    /// <summary>Read-only remount flags for a bind, keeping the per-mount flags it has (nosuid, nodev, ...).</summary>
    public static ulong ReadOnlyRemountFlags(MountInfoEntry? current)
    {
        var flags = Interop.MS_BIND | Interop.MS_REMOUNT | Interop.MS_RDONLY;
        if (current is null)
        {
            return flags;
        }

        foreach (var option in current.MountOptions.Split(','))
        {
            flags |= option switch
            {
                "nosuid" => Interop.MS_NOSUID,
                "nodev" => Interop.MS_NODEV,
                "noexec" => Interop.MS_NOEXEC,
                "noatime" => MS_NOATIME,
                "nodiratime" => MS_NODIRATIME,
                "relatime" => MS_RELATIME,
                "strictatime" => MS_STRICTATIME,
                _ => 0,
            };
        }

        return flags;
    }

    /// <summary>The mounts strictly below <paramref name="mountPoint"/>, parents before children.</summary>
    public static IReadOnlyList<MountInfoEntry> Submounts(IReadOnlyList<MountInfoEntry> mountTable, string mountPoint) =>
        mountTable.Where(e => e.MountPoint != mountPoint && IsAtOrUnder(e.MountPoint, mountPoint)).ToList();

    private const ulong MS_NOATIME = 0x400;
    private const ulong MS_NODIRATIME = 0x800;
    private const ulong MS_RELATIME = 0x200000;
    private const ulong MS_STRICTATIME = 0x1000000;

    private static PlannedMount HostFileBind(string path, string purpose) => new()
    {
        Kind = PlannedMountKind.Bind,
        Source = path,
        Target = path,
        Flags = Interop.MS_BIND,
        ReadOnly = true,
        PropagationFlags = Interop.MS_SLAVE,
        Purpose = purpose,
    };

    private static int Depth(string target) => target.Split('/', StringSplitOptions.RemoveEmptyEntries).Count(c => c != ".");

    private static string Normalize(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(c => c != ".");
        return "/" + string.Join('/', parts);
    }
}
