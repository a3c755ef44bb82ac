using System.Text.Json.Serialization;
using Kubefly.Fly;

namespace Kubefly.Pods;

/// <summary>
/// What a pod remembers about itself (pods/&lt;state&gt;/&lt;uuid&gt;/pod.json), written once while preparing.
/// Paths inside the pod directory are fixed names (<see cref="PodPaths"/>), never stored: the directory
/// moves between states.
/// </summary>
public sealed record PodRecord
{
    public required string Uuid { get; init; }

    public required string AppName { get; init; }

    /// <summary>The image as given on the command line.</summary>
    public required string Image { get; init; }

    /// <summary>The name the store knows it by (what `list` shows).</summary>
    public required string ImageName { get; init; }

    public required string ManifestDigest { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Absolute path of --uuid-file-save, so gc can tell when nothing refers to the pod any more.</summary>
    public string? UuidFile { get; init; }

    public required IReadOnlyList<string> LowerDirectories { get; init; }

    public required IReadOnlyList<string> Arguments { get; init; }

    public required IReadOnlyList<string> Environment { get; init; }

    public required string WorkingDirectory { get; init; }

    public string? User { get; init; }

    public string? Group { get; init; }

    public IReadOnlyList<PodMountRecord> Mounts { get; init; } = [];

    public IReadOnlyList<string>? Dns { get; init; }

    public IReadOnlyList<string> HostsEntries { get; init; } = [];
}

public sealed record PodMountRecord
{
    public required string Volume { get; init; }

    /// <summary>Host path; for kind=empty volumes a path relative to the pod directory.</summary>
    public required string Source { get; init; }

    public bool SourceInPod { get; init; }

    public required string Target { get; init; }

    public bool ReadOnly { get; init; }

    public bool Recursive { get; init; }

    public MountPropagation Propagation { get; init; }
}

/// <summary>The fixed names inside a pod directory.</summary>
public static class PodPaths
{
    public const string Record = "pod.json";
    public const string Created = "pod-created";
    public const string Pid = "pid";
    public const string Pgid = "pgid";
    public const string GarbageMarked = "gc-marked";
    public const string Rootfs = "rootfs";
    public const string Overlay = "overlay";
    public const string UpperDirectory = "overlay/upper";
    public const string WorkDirectory = "overlay/work";
    public const string Volumes = "volumes";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PodRecord))]
public sealed partial class PodJsonContext : JsonSerializerContext;
