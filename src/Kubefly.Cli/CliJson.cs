using System.Text.Json.Serialization;

namespace Kubefly.Cli;

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

[JsonSerializable(typeof(List<ImageListItem>))]
internal sealed partial class CliJsonContext : JsonSerializerContext
{
}
