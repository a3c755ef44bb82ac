using Kubefly.Linux;

namespace Kubefly.Fly;

/// <summary>
/// What the fly stage will mount, in which order and with which flags: computed by
/// <see cref="MountPlanner"/> from a <see cref="FlyPlan"/> and the mount table (pure), applied by
/// <see cref="FlyStage"/>.
/// </summary>
public sealed record MountPlan(
    IReadOnlyList<PropagationChange> Propagation,
    OverlayMount Overlay,
    IReadOnlyList<PlannedMount> Mounts,
    IReadOnlyList<PlannedFile> Files);

/// <summary>A propagation change on a mount point of the new namespace (phase 1).</summary>
public sealed record PropagationChange(string MountPoint, ulong Flags)
{
    public override string ToString() => $"{Interop.DescribeMountFlags(Flags)} {MountPoint}";
}

/// <summary>
/// The overlay rootfs mount. <see cref="Data"/> fits one page; when it holds relative lower dirs the
/// applier changes directory to <see cref="WorkingDirectory"/> first (after creating <see cref="Links"/>
/// in it, when the layer paths had to be replaced by short symlinks).
/// </summary>
public sealed record OverlayMount(string Target, string Data, string? WorkingDirectory, IReadOnlyList<OverlayLink> Links);

/// <summary>A short symlink name standing for a long lower dir path.</summary>
public sealed record OverlayLink(string Name, string Target);

public enum PlannedMountKind
{
    /// <summary>A bind of a host path (MS_REC in <see cref="PlannedMount.Flags"/> for rbind).</summary>
    Bind,

    /// <summary>A fresh filesystem of <see cref="PlannedMount.FileSystemType"/> (tmpfs).</summary>
    NewFileSystem,

    /// <summary>
    /// A copy of the host's mount tree at the source (MS_REC in <see cref="PlannedMount.Flags"/> for its
    /// submounts too), cloned before the pod's mounts become slaves, so it keeps the propagation the
    /// source has on the host: rkt fly's bind in the host namespace, without the rest of the pod leaking.
    /// </summary>
    HostTree,
}

/// <summary>One mount inside the rootfs.</summary>
public sealed record PlannedMount
{
    public required PlannedMountKind Kind { get; init; }

    /// <summary>Host path for binds; the source name for new filesystems ("tmpfs").</summary>
    public required string Source { get; init; }

    /// <summary>Absolute path inside the rootfs (resolved in-root by the applier).</summary>
    public required string Target { get; init; }

    public string? FileSystemType { get; init; }

    /// <summary>mount(2) flags of the mount itself (MS_BIND, MS_REC, MS_NOSUID, ...).</summary>
    public required ulong Flags { get; init; }

    public string? Data { get; init; }

    /// <summary>Remount read-only after mounting (MS_BIND|MS_REMOUNT|MS_RDONLY).</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Remount every submount under the target read-only too.</summary>
    public bool ReadOnlyRecursive { get; init; }

    /// <summary>Propagation to set on the new mount afterwards; 0 keeps what the bind inherited (rshared).</summary>
    public ulong PropagationFlags { get; init; }

    /// <summary>What this mount is for, for error messages ("volume data", "/proc", "dns=host").</summary>
    public required string Purpose { get; init; }

    public override string ToString() =>
        $"{Purpose}: {Source} on {Target} ({Interop.DescribeMountFlags(Flags)}{(ReadOnly ? ", ro" : string.Empty)}{(ReadOnlyRecursive ? " recursive" : string.Empty)}{(PropagationFlags == 0 ? string.Empty : ", then " + Interop.DescribeMountFlags(PropagationFlags))})";
}

/// <summary>A file written inside the rootfs (never through a symlink).</summary>
public sealed record PlannedFile(string Target, string Content, bool OnlyIfMissing, string Purpose);
