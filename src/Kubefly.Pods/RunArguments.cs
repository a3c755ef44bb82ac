using Kubefly.Images;
namespace Kubefly.Pods;

/// <summary>Everything `run` was told, pod-wide and per app, before any image is fetched.</summary>
public sealed record RunArguments
{
    public required IReadOnlyList<AppArguments> Apps { get; init; }

    /// <summary>The one app fly runs (the parser guarantees exactly one).</summary>
    public AppArguments App => Apps[0];

    public IReadOnlyList<VolumeSpec> Volumes { get; init; } = [];

    /// <summary>--mount flags given before the first image: they apply to every app.</summary>
    public IReadOnlyList<MountSpec> PodMounts { get; init; } = [];

    public string? UuidFileSave { get; init; }

    public bool InheritEnvironment { get; init; }

    /// <summary>--set-env-file contents, in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> EnvironmentFromFiles { get; init; } = [];

    /// <summary>--set-env values, in flag order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ExplicitEnvironment { get; init; } = [];

    /// <summary>--dns: null when not given; ["host"], ["none"], or nameserver IPs.</summary>
    public IReadOnlyList<string>? Dns { get; init; }

    /// <summary>--hosts-entry: ["host"] or "IP=HOST" entries; empty when not given.</summary>
    public IReadOnlyList<string> HostsEntries { get; init; } = [];

    public PullPolicy PullPolicy { get; init; } = PullPolicy.New;

    /// <summary>Things the operator should hear about (flags accepted but meaningless here).</summary>
    public IReadOnlyList<string> Notices { get; init; } = [];
}

/// <summary>One image on the command line and the per-app flags that followed it.</summary>
public sealed record AppArguments
{
    public required string Image { get; init; }

    public string? Name { get; init; }

    public string? Exec { get; init; }

    public string? User { get; init; }

    public string? Group { get; init; }

    public string? WorkingDirectory { get; init; }

    /// <summary>--environment values (highest precedence), in flag order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; } = [];

    /// <summary>--mount flags after this image; they win over pod-wide mounts at the same target.</summary>
    public IReadOnlyList<MountSpec> Mounts { get; init; } = [];

    /// <summary>Arguments between `--` and `---` (or the end); null when no `--` followed the image.</summary>
    public IReadOnlyList<string>? Arguments { get; init; }
}
