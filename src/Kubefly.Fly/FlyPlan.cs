namespace Kubefly.Fly;

/// <summary>
/// Everything the fly stage needs to turn a prepared pod into the running app, decided beforehand by
/// the pod layer (pure data: the pod layer never touches mounts, the fly stage never reads images or
/// pod state). FlyStage applies it on the calling thread and execs; it never returns on
/// success.
/// </summary>
public sealed record FlyPlan
{
    /// <summary>The pod directory (for the pid and mntns files and the private dirs below).</summary>
    public required string PodDirectory { get; init; }

    /// <summary>Unpacked layer directories, bottom layer first.</summary>
    public required IReadOnlyList<string> LowerDirectories { get; init; }

    /// <summary>Fresh per-pod overlay upper and work dirs (same filesystem), and the rootfs mount point.</summary>
    public required string UpperDirectory { get; init; }

    public required string WorkDirectory { get; init; }

    public required string RootfsDirectory { get; init; }

    /// <summary>Host volumes and pod-private (kind=empty) dirs to bind at targets inside the rootfs.</summary>
    public IReadOnlyList<FlyMount> Mounts { get; init; } = [];

    /// <summary>Argv of the app: argv[0] is resolved inside the rootfs using PATH from <see cref="Environment"/>.</summary>
    public required IReadOnlyList<string> Arguments { get; init; }

    /// <summary>The complete environment of the app (KEY=VALUE); nothing else is inherited.</summary>
    public required IReadOnlyList<string> Environment { get; init; }

    /// <summary>Working directory inside the rootfs ("/" when the image sets none).</summary>
    public string WorkingDirectory { get; init; } = "/";

    /// <summary>User as the image or --user gave it: "name", "uid", "uid:gid", "name:group"; resolved in the rootfs.</summary>
    public string? User { get; init; }

    /// <summary>Group as --group gave it; overrides the user's primary group.</summary>
    public string? Group { get; init; }

    /// <summary>--dns: null to leave the image's, "host" to bind the host's /etc/resolv.conf, "none", or nameserver IPs.</summary>
    public IReadOnlyList<string>? Dns { get; init; }

    /// <summary>--hosts-entry: "host" binds the host's /etc/hosts; IP=HOST entries are written; empty means default.</summary>
    public IReadOnlyList<string> HostsEntries { get; init; } = [];

    /// <summary>File descriptors to keep open across exec besides 0-2 (the pod lock; systemd's LISTEN_FDS).</summary>
    public IReadOnlyList<int> KeepDescriptors { get; init; } = [];

    /// <summary>
    /// When set, the host's NOTIFY_SOCKET is bound here inside the rootfs and the env points at it.
    /// The host socket is taken from kubefly's own process environment (what systemd gave the unit),
    /// not from <see cref="Environment"/>; an abstract (@...) socket is passed through unbound.
    /// </summary>
    public string? NotifySocketTarget { get; init; }
}

/// <summary>How mounts under a host volume propagate; see docs/adr/0007-host-volume-propagation.md.</summary>
public enum MountPropagation
{
    /// <summary>Host mounts appear inside; nothing made inside reaches the host.</summary>
    RSlave,

    /// <summary>Bidirectional, and the source must lie on a shared mount of the host (else the pod does not start).</summary>
    RShared,

    /// <summary>Neither direction.</summary>
    Private,

    /// <summary>
    /// rkt fly's rule, the default for host volumes: the bind propagates as its source does on the host.
    /// On a shared mount (systemd's "/") the app's mounts under it reach the host and the host's reach
    /// the app; on a slave mount they only come in; on a private one neither way.
    /// </summary>
    AsOnHost,
}

/// <summary>One bind mount into the rootfs.</summary>
public sealed record FlyMount
{
    /// <summary>Absolute host path (a file, directory or socket).</summary>
    public required string Source { get; init; }

    /// <summary>Absolute path inside the rootfs; resolved without following symlinks out of it.</summary>
    public required string Target { get; init; }

    public bool ReadOnly { get; init; }

    public bool Recursive { get; init; }

    public MountPropagation Propagation { get; init; } = MountPropagation.RSlave;

    /// <summary>The volume name, for error messages.</summary>
    public string VolumeName { get; init; } = string.Empty;
}
