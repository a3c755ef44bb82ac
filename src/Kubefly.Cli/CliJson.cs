using System.Text.Json.Serialization;

namespace Kubefly.Cli;

/// <summary>One line of `kubefly doctor`: ok, warn or fail, what was found, and what to do about it.</summary>
public sealed record DoctorCheck
{
    [JsonPropertyName("check")]
    public string Name { get; init; } = string.Empty;

    [JsonPropertyName("status")]
    public required string Status { get; init; }

    [JsonPropertyName("detail")]
    public required string Detail { get; init; }

    [JsonPropertyName("fix")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Fix { get; init; }
}

/// <summary>`trust --format=json`: the policy in force, or what it requires of one image.</summary>
public sealed record TrustReport
{
    [JsonPropertyName("policy")]
    public required string Policy { get; init; }

    [JsonPropertyName("exists")]
    public bool Exists { get; init; }

    [JsonPropertyName("image")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Image { get; init; }

    [JsonPropertyName("scopes")]
    public required IReadOnlyList<TrustScopeEntry> Scopes { get; init; }

    [JsonPropertyName("lookaside")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Lookaside { get; init; }

    [JsonPropertyName("sigstoreAttachments")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? SigstoreAttachments { get; init; }
}

public sealed record TrustScopeEntry
{
    [JsonPropertyName("transport")]
    public required string Transport { get; init; }

    [JsonPropertyName("scope")]
    public required string Scope { get; init; }

    [JsonPropertyName("requirements")]
    public required IReadOnlyList<string> Requirements { get; init; }
}

/// <summary>`image list --format=json` rows, named as rkt named them.</summary>
public sealed record ImageListItem
{
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("import_time")]
    public long ImportTime { get; init; }

    [JsonPropertyName("last_used_time")]
    public long LastUsedTime { get; init; }

    [JsonPropertyName("size")]
    public long Size { get; init; }

    /// <summary>How the trust policy let the image in (kubefly's addition: rkt verified only its own image format).</summary>
    [JsonPropertyName("verified")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Verified { get; init; }

    /// <summary>Set for a record file that cannot be read (kubefly's addition; rkt had no such entries).</summary>
    [JsonPropertyName("corrupt")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Corrupt { get; init; }

    [JsonPropertyName("file")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? File { get; init; }
}

/// <summary>`kubefly version --format=json`.</summary>
public sealed record VersionReport
{
    [JsonPropertyName("version")]
    public required string Version { get; init; }

    [JsonPropertyName("commit")]
    public required string Commit { get; init; }

    [JsonPropertyName("rkt_version")]
    public required string RktVersion { get; init; }

    [JsonPropertyName("features")]
    public required IReadOnlyList<string> Features { get; init; }
}

/// <summary>One unit in `kubefly auto-update --dry-run --format=json`.</summary>
public sealed record UpdateReport
{
    [JsonPropertyName("pod")]
    public required string Pod { get; init; }

    [JsonPropertyName("unit")]
    public string? Unit { get; init; }

    [JsonPropertyName("image")]
    public required string Image { get; init; }

    [JsonPropertyName("running")]
    public required string Running { get; init; }

    [JsonPropertyName("tag")]
    public string? Tag { get; init; }

    /// <summary>current, pending, skipped, refused or failed; after applying also updated or rolled-back.</summary>
    [JsonPropertyName("update")]
    public required string Update { get; init; }

    [JsonPropertyName("reason")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Reason { get; init; }

    /// <summary>After an update: the digest the unit ran before, kept to roll back to.</summary>
    [JsonPropertyName("previous")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Previous { get; init; }

    /// <summary>After an update: milliseconds from the restart's start to the new agent first seen healthy.</summary>
    [JsonPropertyName("healthyAfterMs")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? HealthyAfterMs { get; init; }

    public static UpdateReport From(Pods.Updates.UpdateCandidate candidate) => new()
    {
        Pod = candidate.Pod,
        Unit = candidate.Unit,
        Image = candidate.Image,
        Running = candidate.RunningDigest,
        Tag = candidate.TagDigest,
        Update = candidate.ActionName,
        Reason = candidate.Reason,
        Previous = candidate.PreviousDigest,
        HealthyAfterMs = candidate.HealthyAfter is { } healthy ? (long)healthy.TotalMilliseconds : null,
    };
}

[JsonSerializable(typeof(List<UpdateReport>))]
[JsonSerializable(typeof(VersionReport))]
[JsonSerializable(typeof(List<ImageListItem>))]
[JsonSerializable(typeof(TrustReport))]
[JsonSerializable(typeof(List<DoctorCheck>))]
internal sealed partial class CliJsonContext : JsonSerializerContext
{
    private static CliJsonContext? indented;

    /// <summary>The context for a --format value: indented for json-pretty, compact otherwise.</summary>
    public static CliJsonContext For(string? format) =>
        format == "json-pretty" ? indented ??= new CliJsonContext(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) : Default;
}
