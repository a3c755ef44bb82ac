using System.Text.Json;
using Kubefly.Fly;
using Kubefly.Oci;

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

    /// <summary>"registry" when the unit opted in to `kubefly auto-update` (KUBEFLY_AUTO_UPDATE); null otherwise.</summary>
    public string? AutoUpdate { get; init; }

    /// <summary>The systemd unit the pod runs in (from its cgroup), or null outside a service: what auto-update restarts.</summary>
    public string? Unit { get; init; }

    /// <summary>KUBEFLY_HEALTH_URL of the unit (the URL auto-update's health gate asks for 200), as given; null when unset.</summary>
    public string? HealthUrl { get; init; }

    /// <summary>KUBEFLY_HEALTH_TIMEOUT of the unit (a duration, "2m"), as given; null when unset.</summary>
    public string? HealthTimeout { get; init; }
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
    public const string Pid = "pid";
    public const string MountNamespace = "mntns";
    public const string GarbageMarked = "gc-marked";
    public const string Rootfs = "rootfs";
    public const string Overlay = "overlay";
    public const string UpperDirectory = "overlay/upper";
    public const string WorkDirectory = "overlay/work";
    public const string Volumes = "volumes";
}

/// <summary>
/// pod.json, read and written by hand: `run` writes one on every start, and JsonSerializer's first use
/// would cost a pod start more than all its mounts (see <see cref="JsonFields"/>).
/// </summary>
internal static class PodRecordJson
{
    public static PodRecord Parse(ReadOnlySpan<byte> json)
    {
        string? uuid = null, appName = null, image = null, imageName = null, manifestDigest = null, workingDirectory = null;
        string? uuidFile = null, user = null, group = null, autoUpdate = null, unit = null, healthUrl = null, healthTimeout = null;
        DateTimeOffset? createdAt = null;
        IReadOnlyList<string>? lowerDirectories = null, arguments = null, environment = null, dns = null, hostsEntries = null;
        IReadOnlyList<PodMountRecord>? mounts = null;
        JsonFields.ReadDocument(json, (string name, ref Utf8JsonReader reader) =>
        {
            switch (name)
            {
                case "uuid": uuid = JsonFields.RequiredString(ref reader); break;
                case "appName": appName = JsonFields.RequiredString(ref reader); break;
                case "image": image = JsonFields.RequiredString(ref reader); break;
                case "imageName": imageName = JsonFields.RequiredString(ref reader); break;
                case "manifestDigest": manifestDigest = JsonFields.RequiredString(ref reader); break;
                case "createdAt": createdAt = JsonFields.Time(ref reader); break;
                case "uuidFile": uuidFile = JsonFields.String(ref reader); break;
                case "lowerDirectories": lowerDirectories = JsonFields.Strings(ref reader); break;
                case "arguments": arguments = JsonFields.Strings(ref reader); break;
                case "environment": environment = JsonFields.Strings(ref reader); break;
                case "workingDirectory": workingDirectory = JsonFields.RequiredString(ref reader); break;
                case "user": user = JsonFields.String(ref reader); break;
                case "group": group = JsonFields.String(ref reader); break;
                case "mounts": mounts = JsonFields.List(ref reader, ParseMount); break;
                case "dns": dns = JsonFields.Strings(ref reader); break;
                case "hostsEntries": hostsEntries = JsonFields.Strings(ref reader); break;
                case "autoUpdate": autoUpdate = JsonFields.String(ref reader); break;
                case "unit": unit = JsonFields.String(ref reader); break;
                case "healthUrl": healthUrl = JsonFields.String(ref reader); break;
                case "healthTimeout": healthTimeout = JsonFields.String(ref reader); break;
                default: reader.Skip(); break;
            }
        });
        return new PodRecord
        {
            Uuid = uuid ?? throw JsonFields.Missing("uuid"),
            AppName = appName ?? throw JsonFields.Missing("appName"),
            Image = image ?? throw JsonFields.Missing("image"),
            ImageName = imageName ?? throw JsonFields.Missing("imageName"),
            ManifestDigest = manifestDigest ?? throw JsonFields.Missing("manifestDigest"),
            CreatedAt = createdAt ?? throw JsonFields.Missing("createdAt"),
            UuidFile = uuidFile,
            LowerDirectories = lowerDirectories ?? throw JsonFields.Missing("lowerDirectories"),
            Arguments = arguments ?? throw JsonFields.Missing("arguments"),
            Environment = environment ?? throw JsonFields.Missing("environment"),
            WorkingDirectory = workingDirectory ?? throw JsonFields.Missing("workingDirectory"),
            User = user,
            Group = group,
            Mounts = mounts ?? [],
            Dns = dns,
            HostsEntries = hostsEntries ?? [],
            AutoUpdate = autoUpdate,
            Unit = unit,
            HealthUrl = healthUrl,
            HealthTimeout = healthTimeout,
        };
    }

    public static void Write(Stream stream, PodRecord record) => JsonDocumentWriter.WriteDocument(stream, writer =>
    {
        writer.WriteString("uuid", record.Uuid);
        writer.WriteString("appName", record.AppName);
        writer.WriteString("image", record.Image);
        writer.WriteString("imageName", record.ImageName);
        writer.WriteString("manifestDigest", record.ManifestDigest);
        writer.WriteTime("createdAt", record.CreatedAt);
        if (record.UuidFile is { } uuidFile)
        {
            writer.WriteString("uuidFile", uuidFile);
        }

        writer.WriteStrings("lowerDirectories", record.LowerDirectories);
        writer.WriteStrings("arguments", record.Arguments);
        writer.WriteStrings("environment", record.Environment);
        writer.WriteString("workingDirectory", record.WorkingDirectory);
        if (record.User is { } user)
        {
            writer.WriteString("user", user);
        }

        if (record.Group is { } group)
        {
            writer.WriteString("group", group);
        }

        writer.WriteStartArray("mounts");
        foreach (var mount in record.Mounts)
        {
            writer.WriteStartObject();
            writer.WriteString("volume", mount.Volume);
            writer.WriteString("source", mount.Source);
            writer.WriteBoolean("sourceInPod", mount.SourceInPod);
            writer.WriteString("target", mount.Target);
            writer.WriteBoolean("readOnly", mount.ReadOnly);
            writer.WriteBoolean("recursive", mount.Recursive);
            writer.WriteString("propagation", PropagationNames[(int)mount.Propagation]);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteStrings("dns", record.Dns);
        writer.WriteStrings("hostsEntries", record.HostsEntries);
        if (record.AutoUpdate is { } autoUpdate)
        {
            writer.WriteString("autoUpdate", autoUpdate);
        }

        if (record.Unit is { } unit)
        {
            writer.WriteString("unit", unit);
        }

        if (record.HealthUrl is { } healthUrl)
        {
            writer.WriteString("healthUrl", healthUrl);
        }

        if (record.HealthTimeout is { } healthTimeout)
        {
            writer.WriteString("healthTimeout", healthTimeout);
        }
    });

    private static PodMountRecord ParseMount(ref Utf8JsonReader reader)
    {
        string? volume = null, source = null, target = null;
        bool sourceInPod = false, readOnly = false, recursive = false;
        var propagation = MountPropagation.RSlave;
        JsonFields.ReadObject(ref reader, (string name, ref Utf8JsonReader value) =>
        {
            switch (name)
            {
                case "volume": volume = JsonFields.RequiredString(ref value); break;
                case "source": source = JsonFields.RequiredString(ref value); break;
                case "sourceInPod": sourceInPod = JsonFields.Boolean(ref value); break;
                case "target": target = JsonFields.RequiredString(ref value); break;
                case "readOnly": readOnly = JsonFields.Boolean(ref value); break;
                case "recursive": recursive = JsonFields.Boolean(ref value); break;
                case "propagation": propagation = ParsePropagation(JsonFields.RequiredString(ref value)); break;
                default: value.Skip(); break;
            }
        });
        return new PodMountRecord
        {
            Volume = volume ?? throw JsonFields.Missing("mounts[].volume"),
            Source = source ?? throw JsonFields.Missing("mounts[].source"),
            SourceInPod = sourceInPod,
            Target = target ?? throw JsonFields.Missing("mounts[].target"),
            ReadOnly = readOnly,
            Recursive = recursive,
            Propagation = propagation,
        };
    }

    /// <summary>Indexed by <see cref="MountPropagation"/>; spelled out, since Enum's names come through reflection.</summary>
    private static readonly string[] PropagationNames = ["RSlave", "RShared", "Private", "AsOnHost"];

    private static MountPropagation ParsePropagation(string text)
    {
        var index = Array.IndexOf(PropagationNames, text);
        return index >= 0 ? (MountPropagation)index : throw new JsonException($"unknown mount propagation \"{UntrustedText.Printable(text)}\"");
    }
}
