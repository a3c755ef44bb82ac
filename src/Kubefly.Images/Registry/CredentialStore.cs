using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Kubefly.Oci;

namespace Kubefly.Images.Registry;

/// <summary>A user name and password for a registry, and the file they came from (for messages).</summary>
public sealed record RegistryCredentials(string Username, string Password, string SourceFile)
{
    public override string ToString() => $"{Username} (from {SourceFile})";
}

/// <summary>
/// Registry credentials from the files podman and docker already use. Files are consulted in order and
/// the first that has an entry for the registry wins; inside a file the most specific key wins
/// ("host/ns/repo" over "host/ns" over "host"; legacy "https://host/v1/" keys count as "host"). Kept by
/// hand: no .NET library reads containers-auth.json(5), and its lookup rules are the contract.
/// </summary>
public sealed class CredentialStore
{
    /// <summary>A credential file is a few kilobytes; more is not one, and is not buffered.</summary>
    private const int MaxFileBytes = 1 << 20;

    private readonly IReadOnlyList<string> _files;

    /// <summary>
    /// Each file read and parsed once per store (one command): a pull asks for credentials on every
    /// request, and re-reading the files each time cost a parse per blob and let a file changing
    /// mid-pull give one image two identities.
    /// </summary>
    private readonly ConcurrentDictionary<string, Lazy<Dictionary<string, AuthEntry>?>> _parsed = new(StringComparer.Ordinal);

    public CredentialStore(IReadOnlyList<string> files) => _files = files;

    /// <summary>No credentials anywhere (anonymous access only).</summary>
    public static CredentialStore None { get; } = new([]);

    /// <summary>The files to consult, in order.</summary>
    public IReadOnlyList<string> Files => _files;

    /// <summary>
    /// $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json, /etc/containers/auth.json,
    /// ~/.docker/config.json (those that are set).
    /// </summary>
    public static CredentialStore FromEnvironment()
    {
        var files = new List<string>();
        if (Environment.GetEnvironmentVariable("REGISTRY_AUTH_FILE") is { Length: > 0 } authFile)
        {
            files.Add(authFile);
        }

        if (Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtimeDir)
        {
            files.Add(Path.Combine(runtimeDir, "containers", "auth.json"));
        }

        files.Add("/etc/containers/auth.json");
        var home = Environment.GetEnvironmentVariable("HOME");
        if (string.IsNullOrEmpty(home))
        {
            home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        }

        if (!string.IsNullOrEmpty(home))
        {
            files.Add(Path.Combine(home, ".docker", "config.json"));
        }

        return new CredentialStore(files);
    }

    /// <summary>
    /// Credentials for <paramref name="registry"/> (host[:port], "docker.io" for Docker Hub) and
    /// <paramref name="repository"/> (may be empty), or null for anonymous access.
    /// </summary>
    public RegistryCredentials? Find(string registry, string repository)
    {
        var candidates = CandidateKeys(NormalizeRegistry(registry), repository);
        foreach (var file in _files)
        {
            var auths = _parsed.GetOrAdd(file, static f => new Lazy<Dictionary<string, AuthEntry>?>(() => ReadAuths(f))).Value;
            if (auths is null)
            {
                continue;
            }

            foreach (var candidate in candidates)
            {
                if (auths.TryGetValue(candidate, out var entry))
                {
                    return Decode(entry, file, candidate);
                }
            }
        }

        return null;
    }

    // Most specific first: host/a/b/c, host/a/b, host/a, host.
    private static List<string> CandidateKeys(string host, string repository)
    {
        var keys = new List<string>();
        var path = repository.Trim('/');
        while (path.Length > 0)
        {
            keys.Add(host + "/" + path);
            var slash = path.LastIndexOf('/');
            path = slash >= 0 ? path[..slash] : string.Empty;
        }

        keys.Add(host);
        return keys;
    }

    private static string NormalizeRegistry(string registry) =>
        registry is "index.docker.io" or "registry-1.docker.io" ? ImageReference.DockerHubDomain : registry;

    // Docker's legacy keys are URLs ("https://index.docker.io/v1/"): only their host counts.
    private static string NormalizeKey(string key)
    {
        var normalized = key;
        foreach (var scheme in new[] { "https://", "http://" })
        {
            if (normalized.StartsWith(scheme, StringComparison.Ordinal))
            {
                normalized = normalized[scheme.Length..];
                var slash = normalized.IndexOf('/', StringComparison.Ordinal);
                normalized = slash >= 0 ? normalized[..slash] : normalized;
                break;
            }
        }

        return NormalizeRegistry(normalized.TrimEnd('/'));
    }

    private static Dictionary<string, AuthEntry>? ReadAuths(string file)
    {
        byte[] bytes;
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            var buffer = new byte[Math.Min(stream.Length, MaxFileBytes) + 1];
            var length = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            if (length > MaxFileBytes)
            {
                throw new ImageException($"registry credentials file {file} is larger than {MaxFileBytes >> 20} MiB: not a credentials file");
            }

            bytes = buffer[..length];
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageException($"cannot read registry credentials {file}: {RuntimeText.Describe(e)}", e);
        }

        AuthFile? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize(bytes, CredentialJsonContext.Default.AuthFile);
        }
        catch (JsonException e)
        {
            throw new ImageException($"invalid registry credentials file {file}: {RuntimeText.Describe(e)}", e);
        }

        var result = new Dictionary<string, AuthEntry>(StringComparer.Ordinal);
        if (parsed?.Auths is null)
        {
            return result;
        }

        // An exact "host/path" key beats a legacy URL key normalizing to the same thing.
        foreach (var (key, entry) in parsed.Auths.OrderBy(pair => pair.Key.Contains("://", StringComparison.Ordinal) ? 0 : 1))
        {
            result[NormalizeKey(key)] = entry;
        }

        return result;
    }

    private static RegistryCredentials? Decode(AuthEntry entry, string file, string key)
    {
        if (!string.IsNullOrEmpty(entry.Auth))
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(entry.Auth));
            }
            catch (FormatException e)
            {
                throw new ImageException($"invalid registry credentials for \"{UntrustedText.Printable(key)}\" in {file}: \"auth\" is not base64", e);
            }

            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                throw new ImageException($"invalid registry credentials for \"{UntrustedText.Printable(key)}\" in {file}: \"auth\" is not USER:PASSWORD");
            }

            return new RegistryCredentials(decoded[..colon], decoded[(colon + 1)..], file);
        }

        if (!string.IsNullOrEmpty(entry.Username))
        {
            return new RegistryCredentials(entry.Username, entry.Password ?? string.Empty, file);
        }

        // An entry without credentials (e.g. only "identitytoken", which kubefly does not use) means anonymous.
        return null;
    }
}

internal sealed record AuthFile
{
    [JsonPropertyName("auths")]
    public Dictionary<string, AuthEntry>? Auths { get; init; }
}

internal sealed record AuthEntry
{
    [JsonPropertyName("auth")]
    public string? Auth { get; init; }

    [JsonPropertyName("username")]
    public string? Username { get; init; }

    [JsonPropertyName("password")]
    public string? Password { get; init; }
}

/// <summary>The token endpoint's answer (Distribution token-auth spec).</summary>
internal sealed record TokenResponse
{
    [JsonPropertyName("token")]
    public string? Token { get; init; }

    [JsonPropertyName("access_token")]
    public string? AccessToken { get; init; }

    [JsonPropertyName("expires_in")]
    public long? ExpiresIn { get; init; }
}

[JsonSourceGenerationOptions(AllowTrailingCommas = true, ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(AuthFile))]
[JsonSerializable(typeof(TokenResponse))]
internal sealed partial class CredentialJsonContext : JsonSerializerContext
{
}
