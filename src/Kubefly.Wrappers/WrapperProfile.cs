namespace Kubefly.Wrappers;

/// <summary>
/// Everything that distinguishes kubelet-wrapper, etcd-wrapper and flannel-wrapper, as data. One
/// composer (<see cref="WrapperComposer"/>) turns a profile, an environment and the unit's arguments
/// into the engine's command line in the original script's order.
/// </summary>
public sealed record WrapperProfile
{
    /// <summary>"kubelet", "etcd", "flannel": the name `kubefly wrapper NAME` and `kubefly unit NAME` take.</summary>
    public required string Name { get; init; }

    /// <summary>The multi-call name and message prefix: "kubelet-wrapper".</summary>
    public required string ProgramName { get; init; }

    /// <summary>Full image reference; overrides URL and tag ("KUBELET_IMAGE").</summary>
    public required string ImageVariable { get; init; }

    public required string ImageTagVariable { get; init; }

    public required string ImageUrlVariable { get; init; }

    public required string ImageArgsVariable { get; init; }

    public required string DefaultImageUrl { get; init; }

    /// <summary>What <see cref="ImageArgsVariable"/> means when unset ("--exec=/kubelet"), or null for nothing.</summary>
    public string? DefaultImageArgs { get; init; }

    /// <summary>Old names that still work, each announced by its own line.</summary>
    public IReadOnlyList<DeprecatedVariable> DeprecatedVariables { get; init; } = [];

    /// <summary>Variables that must each be set (checked after the image's one-of rule).</summary>
    public IReadOnlyList<string> RequiredVariables { get; init; } = [];

    /// <summary>Host directories created before the engine starts.</summary>
    public IReadOnlyList<HostDirectory> HostDirectories { get; init; } = [];

    /// <summary>Arguments appended to RKT_RUN_ARGS when their host source exists (before the system volumes).</summary>
    public IReadOnlyList<ConditionalVolume> ConditionalVolumes { get; init; } = [];

    /// <summary>Flags written right after RKT_RUN_ARGS, before the system volumes (flannel: --net=host).</summary>
    public IReadOnlyList<string> FlagsBeforeVolumes { get; init; } = [];

    /// <summary>The system volumes: every --volume, then every --mount, in this order.</summary>
    public required IReadOnlyList<SystemVolume> Volumes { get; init; }

    /// <summary>Flags written after the mounts, before the stage1 flag (--hosts-entry host; --inherit-env).</summary>
    public IReadOnlyList<string> FlagsAfterMounts { get; init; } = [];

    /// <summary>When set, the app runs as this variable's user: `--user=UID` after the image arguments.</summary>
    public string? UserVariable { get; init; }

    /// <summary>Environment the engine (and, with --inherit-env, the app) sees changed.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> EnvironmentOverrides { get; init; } = [];

    /// <summary>kubelet-wrapper reads the kubelet's flags to warn about an open kubelet API.</summary>
    public bool ChecksKubeletApi { get; init; }

    public required UnitTemplate Unit { get; init; }
}

public enum DeprecationKind
{
    /// <summary>Used when the replacement is unset: <c>TAG="${TAG:-${OLD}}"</c>.</summary>
    Fallback,

    /// <summary>Appended to the replacement: <c>RKT_RUN_ARGS="${RKT_RUN_ARGS} ${RKT_OPTS}"</c>.</summary>
    Append,
}

public sealed record DeprecatedVariable(string Name, string Replacement, DeprecationKind Kind, string Message);

/// <summary>A host directory to create when missing; its path may come from a variable.</summary>
public sealed record HostDirectory
{
    public string? Path { get; init; }

    /// <summary>Variable naming the path (etcd: ETCD_DATA_DIR); takes the place of <see cref="Path"/>.</summary>
    public string? PathVariable { get; init; }

    /// <summary>Variable naming the user that owns it when created (etcd: ETCD_USER).</summary>
    public string? OwnerVariable { get; init; }
}

/// <summary>A host bind the original always passed: `--volume NAME,kind=host,source=S,...` and `--mount volume=NAME,target=T`.</summary>
public sealed record SystemVolume
{
    /// <summary>Keeps the original `coreos-` prefix, so a user's own `var-log` never clashes.</summary>
    public required string Name { get; init; }

    public required string Source { get; init; }

    /// <summary>A variable that overrides <see cref="Source"/> (etcd: ETCD_DATA_DIR, ETCD_SSL_DIR).</summary>
    public string? SourceVariable { get; init; }

    public required string Target { get; init; }

    public bool ReadOnly { get; init; }

    public bool Recursive { get; init; }

    /// <summary>kubefly's propagation key ("rshared"), or null for the engine's default (rslave).</summary>
    public string? Propagation { get; init; }

    public bool IsShared => Propagation == "rshared";
}

public enum HostCondition
{
    Directory,
    Socket,
}

/// <summary>A volume the original added to RKT_RUN_ARGS only when its host source exists as the given kind.</summary>
public sealed record ConditionalVolume
{
    public required string Name { get; init; }

    public required string SourceVariable { get; init; }

    /// <summary>The source when <see cref="SourceVariable"/> is unset; null: nothing to mount then.</summary>
    public string? DefaultSource { get; init; }

    /// <summary>The target; null means the same path as the source.</summary>
    public string? Target { get; init; }

    public required HostCondition Condition { get; init; }

    /// <summary>null: the original wrote no readOnly key.</summary>
    public bool? ReadOnly { get; init; }

    /// <summary>The original wrote `--mount` before `--volume` for these (etcd, and both notify sockets).</summary>
    public bool MountFirst { get; init; }

    /// <summary>Extra run flags that come with it (the notify socket's `--set-env`).</summary>
    public IReadOnlyList<string> ExtraFlags { get; init; } = [];
}

/// <summary>The systemd unit `kubefly unit NAME` prints, in the seed's pattern.</summary>
public sealed record UnitTemplate
{
    public required string Description { get; init; }

    /// <summary>Where the wrapper is installed (`make install-compat` puts it where CoreOS had it).</summary>
    public required string WrapperPath { get; init; }

    public required string UuidFile { get; init; }

    public IReadOnlyList<string> UnitLines { get; init; } = [];

    public IReadOnlyList<string> ServiceLines { get; init; } = [];

    /// <summary>Fixed environment lines besides the image and RKT_RUN_ARGS (etcd: ETCD_USER, ETCD_DATA_DIR).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; } = [];

    public IReadOnlyList<string> ExecStartPre { get; init; } = [];

    /// <summary>Words ExecStart passes before the user's flags (etcd: $ETCD_OPTS).</summary>
    public IReadOnlyList<string> ExecStartWords { get; init; } = [];
}
