using Kubefly.Oci;

namespace Kubefly.Images.Registry;

/// <summary>Which pulls a mirror serves (containers-registries.conf(5), <c>pull-from-mirror</c>).</summary>
public enum MirrorPulls
{
    /// <summary>"all" (the default): pulls by tag and by digest.</summary>
    All,

    /// <summary>"digest-only": only pulls by digest, whose content the digest pins.</summary>
    DigestOnly,

    /// <summary>"tag-only": only pulls by tag.</summary>
    TagOnly,
}

/// <summary>A <c>[[registry.mirror]]</c> entry.</summary>
public sealed record RegistryMirror(string Location, bool Insecure, MirrorPulls Pulls = MirrorPulls.All)
{
    /// <summary>Whether this mirror serves a pull by digest (true) or by tag (false).</summary>
    public bool Serves(bool byDigest) => Pulls switch
    {
        MirrorPulls.DigestOnly => byDigest,
        MirrorPulls.TagOnly => !byDigest,
        _ => true,
    };
}

/// <summary>A <c>[[registry]]</c> entry of registries.conf (v2 format).</summary>
public sealed record RegistryEntry
{
    /// <summary>What references it applies to: "host[:port][/path]" or "*.example.com"; defaults to the location.</summary>
    public required string Prefix { get; init; }

    /// <summary>Where the prefix really lives ("" keeps the reference's own location).</summary>
    public string Location { get; init; } = string.Empty;

    public bool Insecure { get; init; }

    public bool Blocked { get; init; }

    public bool MirrorByDigestOnly { get; init; }

    public IReadOnlyList<RegistryMirror> Mirrors { get; init; } = [];

    public bool IsWildcard => Prefix.StartsWith("*.", StringComparison.Ordinal);
}

/// <summary>
/// The registries.conf podman and skopeo read (containers-registries.conf(5), v2 format): per-prefix
/// locations, mirrors, insecure and blocked registries. Only the fields kubefly uses are interpreted; keys
/// it does not know are rejected so that a typo never weakens a setting silently.
/// </summary>
public sealed class RegistriesConf
{
    public const string DefaultPath = "/etc/containers/registries.conf";
    public const string PathVariable = "CONTAINERS_REGISTRIES_CONF";

    private static readonly HashSet<string> KnownTopLevelKeys =
        ["registry", "unqualified-search-registries", "short-name-mode", "aliases", "credential-helpers"];

    private static readonly HashSet<string> KnownRegistryKeys =
        ["prefix", "location", "insecure", "blocked", "mirror-by-digest-only", "mirror", "pull-from-mirror"];

    private static readonly HashSet<string> KnownMirrorKeys = ["location", "insecure", "pull-from-mirror"];

    public RegistriesConf(IReadOnlyList<RegistryEntry> registries, IReadOnlyList<string> unqualifiedSearchRegistries, string source)
    {
        Registries = registries;
        UnqualifiedSearchRegistries = unqualifiedSearchRegistries;
        Source = source;
    }

    /// <summary>No configuration: every reference goes to its own registry over https.</summary>
    public static RegistriesConf Empty { get; } = new([], [], "(none)");

    public IReadOnlyList<RegistryEntry> Registries { get; }

    public IReadOnlyList<string> UnqualifiedSearchRegistries { get; }

    /// <summary>The file it was read from, for messages.</summary>
    public string Source { get; }

    /// <summary>
    /// Reads <paramref name="path"/>, else $CONTAINERS_REGISTRIES_CONF, else /etc/containers/registries.conf.
    /// A missing default file is an empty configuration; a missing explicitly named file is an error.
    /// </summary>
    public static RegistriesConf Load(string? path = null)
    {
        var explicitPath = path ?? NonEmpty(Environment.GetEnvironmentVariable(PathVariable));
        var file = explicitPath ?? DefaultPath;
        string text;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (FileNotFoundException) when (explicitPath is null)
        {
            return Empty;
        }
        catch (DirectoryNotFoundException) when (explicitPath is null)
        {
            return Empty;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageException($"cannot read registries configuration {file}: {RuntimeText.Describe(e)}", e);
        }

        return Parse(text, file);
    }

    public static RegistriesConf Parse(string text, string fileName)
    {
        var root = TomlDocumentReader.Parse(text, fileName);
        foreach (var key in root.Keys)
        {
            if (!KnownTopLevelKeys.Contains(key))
            {
                throw new TomlSyntaxException(fileName, root.LineOf(key), $"unknown key \"{key}\"");
            }
        }

        var registries = new List<RegistryEntry>();
        if (root.TryGetValue("registry", out var registryValue))
        {
            if (registryValue is not List<TomlTable> tables)
            {
                throw new TomlSyntaxException(fileName, root.LineOf("registry"), "\"registry\" must be an array of tables ([[registry]])");
            }

            var firstLineOfPrefix = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var table in tables)
            {
                var entry = ParseRegistry(table, fileName);
                if (!firstLineOfPrefix.TryAdd(entry.Prefix, table.Line))
                {
                    throw new TomlSyntaxException(fileName, table.Line, $"registry prefix \"{UntrustedText.Printable(entry.Prefix)}\" is configured twice (first on line {firstLineOfPrefix[entry.Prefix]})");
                }

                registries.Add(entry);
            }
        }

        var search = root.TryGetValue("unqualified-search-registries", out var searchValue)
            ? searchValue as List<string> ?? throw new TomlSyntaxException(fileName, root.LineOf("unqualified-search-registries"), "\"unqualified-search-registries\" must be an array of strings")
            : [];

        return new RegistriesConf(registries, search, fileName);
    }

    /// <summary>
    /// The entry for "host[:port]/repository": the longest matching prefix, where a prefix matches at a
    /// path boundary; a wildcard "*.example.com" matches hosts under example.com. Null when none applies.
    /// </summary>
    public RegistryEntry? Find(string hostAndRepository)
    {
        RegistryEntry? best = null;
        var bestLength = -1;
        foreach (var entry in Registries)
        {
            var length = MatchLength(entry, hostAndRepository);
            if (length > bestLength)
            {
                best = entry;
                bestLength = length;
            }
        }

        return best;
    }

    private static int MatchLength(RegistryEntry entry, string name)
    {
        if (entry.IsWildcard)
        {
            var slash = name.IndexOf('/', StringComparison.Ordinal);
            var host = slash >= 0 ? name[..slash] : name;
            var colon = host.LastIndexOf(':');
            var hostOnly = colon >= 0 && !host.EndsWith(']') ? host[..colon] : host;
            var suffix = entry.Prefix[1..];
            return hostOnly.EndsWith(suffix, StringComparison.Ordinal) && hostOnly.Length > suffix.Length ? suffix.Length : -1;
        }

        if (!name.StartsWith(entry.Prefix, StringComparison.Ordinal))
        {
            return -1;
        }

        return name.Length == entry.Prefix.Length || name[entry.Prefix.Length] is '/' ? entry.Prefix.Length : -1;
    }

    private static RegistryEntry ParseRegistry(TomlTable table, string file)
    {
        foreach (var key in table.Keys)
        {
            if (!KnownRegistryKeys.Contains(key))
            {
                throw new TomlSyntaxException(file, table.LineOf(key), $"unknown key \"{key}\" in [[registry]]");
            }
        }

        var location = OptionalString(table, "location", file) ?? string.Empty;
        if (location.Length > 0)
        {
            CheckLocation(location, file, table.LineOf("location"));
        }

        var prefix = OptionalString(table, "prefix", file) ?? location;
        if (prefix.Length == 0)
        {
            throw new TomlSyntaxException(file, table.Line, "[[registry]] needs a prefix or a location");
        }

        if (prefix.StartsWith("*.", StringComparison.Ordinal))
        {
            if (prefix.Contains('/', StringComparison.Ordinal) || prefix.Length < 3)
            {
                throw new TomlSyntaxException(file, table.LineOf("prefix"), $"wildcard prefix \"{UntrustedText.Printable(prefix)}\" must be a bare host suffix like *.example.com");
            }

            if (location.Length > 0)
            {
                throw new TomlSyntaxException(file, table.LineOf("location"), $"a wildcard prefix (\"{UntrustedText.Printable(prefix)}\") cannot have a location");
            }
        }
        else
        {
            CheckLocation(prefix, file, table.LineOf("prefix"));
        }

        var mirrors = new List<RegistryMirror>();
        if (table.TryGetValue("mirror", out var mirrorValue))
        {
            if (mirrorValue is not List<TomlTable> mirrorTables)
            {
                throw new TomlSyntaxException(file, table.LineOf("mirror"), "\"mirror\" must be an array of tables ([[registry.mirror]])");
            }

            foreach (var mirror in mirrorTables)
            {
                foreach (var key in mirror.Keys)
                {
                    if (!KnownMirrorKeys.Contains(key))
                    {
                        throw new TomlSyntaxException(file, mirror.LineOf(key), $"unknown key \"{key}\" in [[registry.mirror]]");
                    }
                }

                var mirrorLocation = OptionalString(mirror, "location", file)
                    ?? throw new TomlSyntaxException(file, mirror.Line, "[[registry.mirror]] needs a location");
                CheckLocation(mirrorLocation, file, mirror.LineOf("location"));
                var pulls = OptionalString(mirror, "pull-from-mirror", file) switch
                {
                    null or "" or "all" => MirrorPulls.All,
                    "digest-only" => MirrorPulls.DigestOnly,
                    "tag-only" => MirrorPulls.TagOnly,
                    var other => throw new TomlSyntaxException(file, mirror.LineOf("pull-from-mirror"), $"pull-from-mirror = \"{UntrustedText.Printable(other)}\": must be \"all\", \"digest-only\" or \"tag-only\""),
                };
                if (pulls == MirrorPulls.TagOnly && OptionalBool(table, "mirror-by-digest-only", file))
                {
                    throw new TomlSyntaxException(file, mirror.LineOf("pull-from-mirror"), "pull-from-mirror = \"tag-only\" contradicts mirror-by-digest-only = true for the registry");
                }

                mirrors.Add(new RegistryMirror(mirrorLocation, OptionalBool(mirror, "insecure", file), pulls));
            }
        }

        return new RegistryEntry
        {
            Prefix = prefix,
            Location = location,
            Insecure = OptionalBool(table, "insecure", file),
            Blocked = OptionalBool(table, "blocked", file),
            MirrorByDigestOnly = OptionalBool(table, "mirror-by-digest-only", file),
            Mirrors = mirrors,
        };
    }

    private static void CheckLocation(string location, string file, int line)
    {
        if (location.Contains("://", StringComparison.Ordinal) || location.EndsWith('/') || location.Contains("//", StringComparison.Ordinal) ||
            location.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new TomlSyntaxException(file, line, $"invalid registry location \"{UntrustedText.Printable(location)}\" (expected host[:port][/path], no scheme)");
        }
    }

    private static string? OptionalString(TomlTable table, string key, string file) =>
        !table.TryGetValue(key, out var value) ? null
        : value as string ?? throw new TomlSyntaxException(file, table.LineOf(key), $"\"{key}\" must be a string");

    private static bool OptionalBool(TomlTable table, string key, string file) =>
        table.TryGetValue(key, out var value) && (value as bool? ?? throw new TomlSyntaxException(file, table.LineOf(key), $"\"{key}\" must be true or false"));

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
