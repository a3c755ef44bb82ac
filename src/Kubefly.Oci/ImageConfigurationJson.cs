using System.Text.Json;

namespace Kubefly.Oci;

/// <summary>
/// Reads an image config (OCI image-spec config.md; Docker's image JSON is the same shape for these
/// fields) without JsonSerializer: every pod start reads one (see <see cref="JsonFields"/>).
/// </summary>
public static class ImageConfigurationJson
{
    public static ImageConfiguration Parse(ReadOnlySpan<byte> json)
    {
        var config = new ImageConfiguration();
        JsonFields.ReadDocument(json, (string name, ref Utf8JsonReader reader) =>
        {
            config = name switch
            {
                "created" => config with { Created = JsonFields.String(ref reader) },
                "architecture" => config with { Architecture = JsonFields.String(ref reader) ?? string.Empty },
                "os" => config with { Os = JsonFields.String(ref reader) ?? string.Empty },
                "variant" => config with { Variant = JsonFields.String(ref reader) },
                "config" => config with { Config = reader.TokenType == JsonTokenType.Null ? null : ReadContainerConfig(ref reader) },
                "rootfs" => config with { RootFs = ReadRootFs(ref reader) },
                _ => SkipFor(config, ref reader),
            };
        });
        return config;
    }

    private static ContainerConfig ReadContainerConfig(ref Utf8JsonReader reader)
    {
        var config = new ContainerConfig();
        JsonFields.ReadObject(ref reader, (string name, ref Utf8JsonReader value) =>
        {
            config = name switch
            {
                "User" => config with { User = JsonFields.String(ref value) },
                "Env" => config with { Env = JsonFields.Strings(ref value) },
                "Entrypoint" => config with { Entrypoint = JsonFields.Strings(ref value) },
                "Cmd" => config with { Cmd = JsonFields.Strings(ref value) },
                "WorkingDir" => config with { WorkingDir = JsonFields.String(ref value) },
                "Volumes" => config with { Volumes = ElementMap(ref value) },
                "ExposedPorts" => config with { ExposedPorts = ElementMap(ref value) },
                "Labels" => config with { Labels = JsonFields.StringMap(ref value) },
                "StopSignal" => config with { StopSignal = JsonFields.String(ref value) },
                _ => SkipFor(config, ref value),
            };
        });
        return config;
    }

    private static RootFs ReadRootFs(ref Utf8JsonReader reader)
    {
        var rootfs = new RootFs();
        JsonFields.ReadObject(ref reader, (string name, ref Utf8JsonReader value) =>
        {
            rootfs = name switch
            {
                "type" => rootfs with { Type = JsonFields.String(ref value) ?? string.Empty },
                "diff_ids" => rootfs with { DiffIds = JsonFields.List(ref value, JsonFields.Digest) ?? [] },
                _ => SkipFor(rootfs, ref value),
            };
        });
        return rootfs;
    }

    /// <summary>Volumes and ExposedPorts: keys that matter, values that are empty objects by convention.</summary>
    private static Dictionary<string, JsonElement>? ElementMap(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        var map = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        JsonFields.ReadObject(ref reader, (string name, ref Utf8JsonReader value) => map[name] = JsonElement.ParseValue(ref value));
        return map;
    }

    private static T SkipFor<T>(T unchanged, ref Utf8JsonReader reader)
    {
        reader.Skip();
        return unchanged;
    }
}
