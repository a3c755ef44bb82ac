using Kubefly.Oci;
using Kubefly.Trust.Policy;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Kubefly.Trust.Signatures;

/// <summary>Where one scope's signatures are kept, as registries.d says.</summary>
public sealed record SignatureStorage
{
    /// <summary>The lookaside base URL (file:// or http(s)://) simple signatures are read from, or null.</summary>
    public Uri? Lookaside { get; init; }

    /// <summary>Whether cosign signatures attached in the registry are read.</summary>
    public bool? UseSigstoreAttachments { get; init; }
}

/// <summary>
/// containers-registries.d(5): YAML files saying where each registry's signatures live, shared with
/// podman and skopeo. Read strictly (an unknown key, a scope defined twice, or a second
/// "default-docker" rejects the directory, naming the file and line).
/// </summary>
public sealed class RegistriesD
{
    public const string SystemDirectory = "/etc/containers/registries.d";
    public const string PathVariable = "KUBEFLY_REGISTRIES_D";
    private const long MaxFileBytes = 1 << 20;
    private const int MaxFiles = 256;
    private static readonly string[] EntryKeys = ["lookaside", "lookaside-staging", "sigstore", "sigstore-staging", "use-sigstore-attachments"];

    private readonly Dictionary<string, SignatureStorage> _scopes = new(StringComparer.Ordinal);
    private SignatureStorage? _default;

    public static RegistriesD Empty { get; } = new();

    /// <summary>
    /// $KUBEFLY_REGISTRIES_D, else $HOME/.config/containers/registries.d, else
    /// /etc/containers/registries.d; an absent directory configures nothing.
    /// </summary>
    public static RegistriesD LoadDefault(string? explicitDirectory)
    {
        var named = explicitDirectory ?? (Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } env ? env : null);
        if (named is not null)
        {
            return Directory.Exists(named) ? Load(named) : throw new TrustException($"registries.d directory {named} does not exist");
        }

        if (Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home && Path.Combine(home, ".config", "containers", "registries.d") is var user && Directory.Exists(user))
        {
            return Load(user);
        }

        return Directory.Exists(SystemDirectory) ? Load(SystemDirectory) : Empty;
    }

    public static RegistriesD Load(string directory)
    {
        var result = new RegistriesD();
        var files = Directory.EnumerateFiles(directory).Where(f => f.EndsWith(".yaml", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        if (files.Count > MaxFiles)
        {
            throw new TrustException($"registries.d {directory}: more than {MaxFiles} files");
        }

        foreach (var file in files)
        {
            result.Add(file, BoundedFile.Read(file, MaxFileBytes, "registries.d file"));
        }

        return result;
    }

    /// <summary>Adds one file's configuration (public for tests and for a file read elsewhere).</summary>
    public void Add(string file, byte[] yaml)
    {
        YamlMappingNode? root;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(System.Text.Encoding.UTF8.GetString(yaml)));
            if (stream.Documents.Count == 0)
            {
                return;
            }

            if (stream.Documents.Count > 1)
            {
                throw Fail(file, stream.Documents[1].RootNode, "more than one YAML document");
            }

            root = stream.Documents[0].RootNode as YamlMappingNode ?? throw Fail(file, stream.Documents[0].RootNode, "the file must be a mapping (default-docker:, docker:)");
        }
        catch (YamlException e)
        {
            throw new TrustException($"registries.d {file}:{e.Start.Line}: not valid YAML: {UntrustedText.Printable(e.Message)}");
        }
        catch (ArgumentException)
        {
            // YamlDotNet's mapping refuses a repeated key with a bare ArgumentException.
            throw new TrustException($"registries.d {file}: a key is repeated in one mapping");
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner throws this for some malformed input (found by fuzzing).
            throw new TrustException($"registries.d {file}: not valid YAML");
        }

        foreach (var (keyNode, value) in root.Children)
        {
            var key = Scalar(file, keyNode);
            switch (key)
            {
                case "default-docker":
                    if (_default is not null)
                    {
                        throw Fail(file, keyNode, "\"default-docker\" is already defined in another registries.d file");
                    }

                    _default = Entry(file, value);
                    break;
                case "docker":
                    if (value is YamlScalarNode { Value: null or "" })
                    {
                        break;
                    }

                    var scopes = value as YamlMappingNode ?? throw Fail(file, value, "\"docker\" must map scopes to settings");
                    foreach (var (scopeNode, entry) in scopes.Children)
                    {
                        var scope = Scalar(file, scopeNode);
                        if (scope.Length == 0 || PolicyScopes.Validate("docker", scope) is { } problem)
                        {
                            throw Fail(file, scopeNode, $"scope \"{UntrustedText.Printable(scope)}\" is not a registry host, namespace, repository or reference");
                        }

                        if (!_scopes.TryAdd(scope, Entry(file, entry)))
                        {
                            throw Fail(file, scopeNode, $"scope \"{UntrustedText.Printable(scope)}\" is defined twice");
                        }
                    }

                    break;
                default:
                    throw Fail(file, keyNode, $"unknown key \"{UntrustedText.Printable(key)}\" (allowed: default-docker, docker)");
            }
        }
    }

    /// <summary>The storage for <paramref name="reference"/>: for each setting, the most specific scope that sets it, else default-docker.</summary>
    public SignatureStorage For(ImageReference reference)
    {
        if (reference.Transport != ImageTransport.Docker)
        {
            return new SignatureStorage();
        }

        var matching = PolicyScopes.Candidates(reference).Select(c => _scopes.GetValueOrDefault(c)).OfType<SignatureStorage>().ToList();
        if (_default is not null)
        {
            matching.Add(_default);
        }

        return new SignatureStorage
        {
            Lookaside = matching.Select(m => m.Lookaside).FirstOrDefault(l => l is not null),
            UseSigstoreAttachments = matching.Select(m => m.UseSigstoreAttachments).FirstOrDefault(u => u is not null),
        };
    }

    private static SignatureStorage Entry(string file, YamlNode node)
    {
        if (node is YamlScalarNode { Value: null or "" })
        {
            return new SignatureStorage();
        }

        var mapping = node as YamlMappingNode ?? throw Fail(file, node, "a scope's settings must be a mapping");
        Uri? lookaside = null;
        bool? attachments = null;
        foreach (var (keyNode, value) in mapping.Children)
        {
            var key = Scalar(file, keyNode);
            if (!EntryKeys.Contains(key))
            {
                throw Fail(file, keyNode, $"unknown key \"{UntrustedText.Printable(key)}\" (allowed: {string.Join(", ", EntryKeys)})");
            }

            var text = Scalar(file, value);
            switch (key)
            {
                case "lookaside" or "sigstore":
                    // "sigstore" is the old name of "lookaside"; the newer name wins when both are set.
                    if (key == "lookaside" || lookaside is null)
                    {
                        lookaside = LookasideUrl(file, value, text);
                    }

                    break;
                case "use-sigstore-attachments":
                    attachments = text switch
                    {
                        "true" => true,
                        "false" => false,
                        _ => throw Fail(file, value, "\"use-sigstore-attachments\" must be true or false"),
                    };
                    break;
                default:
                    // The staging URLs say where a signer writes; nothing is read from them.
                    LookasideUrl(file, value, text);
                    break;
            }
        }

        return new SignatureStorage { Lookaside = lookaside, UseSigstoreAttachments = attachments };
    }

    private static Uri LookasideUrl(string file, YamlNode node, string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("file" or "http" or "https"))
        {
            throw Fail(file, node, $"\"{UntrustedText.Printable(text)}\" is not a file://, http:// or https:// URL");
        }

        return uri;
    }

    private static string Scalar(string file, YamlNode node) =>
        node is YamlScalarNode scalar ? scalar.Value ?? string.Empty : throw Fail(file, node, "expected a plain value");

    private static TrustException Fail(string file, YamlNode node, string message) => new($"registries.d {file}:{node.Start.Line}: {message}");
}
