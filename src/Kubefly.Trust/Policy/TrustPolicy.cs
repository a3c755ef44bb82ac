using System.Text;
using System.Text.RegularExpressions;
using Kubefly.Oci;
using Kubefly.Trust.Json;

namespace Kubefly.Trust.Policy;

/// <summary>The requirements that apply to one image, and which entry of the policy chose them.</summary>
public sealed record PolicyMatch(string PolicyPath, string Scope, IReadOnlyList<PolicyRequirement> Requirements)
{
    /// <summary>
    /// A stable fingerprint of what was required, key contents included: an image verified under one set of
    /// requirements is verified again when the policy in force asks for something else, or when a key file
    /// was replaced (a rotated or revoked key). FNV-1a, not SHA-256: it runs on every warm `run`, where
    /// loading the system's crypto library alone would cost milliseconds, and it guards against a policy
    /// changing, not against a forger (the policy and the keys are root's files, the record is in root's store).
    /// </summary>
    public string Fingerprint
    {
        get
        {
            var hash = new Fnv1a();
            foreach (var requirement in Requirements)
            {
                hash.Add(Encoding.UTF8.GetBytes(requirement.Describe() + "\n"));
                foreach (var key in requirement switch
                {
                    SignedByRequirement signedBy => signedBy.Keys,
                    SigstoreSignedRequirement sigstore => sigstore.Keys,
                    _ => [],
                })
                {
                    hash.Add(key.Data ?? ReadKeyOrNothing(key.Path!));
                    hash.Add("\n"u8);
                }
            }

            return $"fnv1a64:{hash.Value:x16}";
        }
    }

    /// <summary>Whether the requirements accept anything without looking at signatures.</summary>
    public bool AcceptsAnything => Requirements.Count > 0 && Requirements.All(r => r is InsecureAcceptAnything);

    // A key that cannot be read now fingerprints as its absence: the verification that follows says why.
    private static byte[] ReadKeyOrNothing(string path)
    {
        try
        {
            return BoundedFile.Read(path, 1 << 20, "trusted key file");
        }
        catch (TrustException)
        {
            return [];
        }
    }
}

/// <summary>
/// containers-policy.json(5), the file podman, skopeo and buildah read: parsed strictly (an unknown or
/// duplicate key, a missing "default" or an unknown requirement type rejects the whole file, naming the
/// line), because a typo that silently weakened the policy would let unsigned images run as root.
/// </summary>
public sealed partial class TrustPolicy
{
    public const string SystemPath = "/etc/containers/policy.json";
    public const string PathVariable = "KUBEFLY_POLICY";
    private const long MaxPolicyBytes = 4 << 20;

    private static readonly HashSet<string> KnownTransports = new(StringComparer.Ordinal)
    {
        "docker", "oci", "oci-archive", "docker-archive", "docker-daemon", "dir", "containers-storage", "atomic", "ostree", "sif", "tarball",
    };

    private readonly Dictionary<string, Dictionary<string, IReadOnlyList<PolicyRequirement>>> _transports;

    private TrustPolicy(string path, IReadOnlyList<PolicyRequirement> defaultRequirements, Dictionary<string, Dictionary<string, IReadOnlyList<PolicyRequirement>>> transports)
    {
        Path = path;
        Default = defaultRequirements;
        _transports = transports;
    }

    public string Path { get; }

    public IReadOnlyList<PolicyRequirement> Default { get; }

    /// <summary>Transport name → scope → requirements, in file order.</summary>
    public IReadOnlyDictionary<string, Dictionary<string, IReadOnlyList<PolicyRequirement>>> Transports => _transports;

    /// <summary>
    /// The policy in force: <paramref name="explicitPath"/> (--policy), else $KUBEFLY_POLICY, else
    /// $HOME/.config/containers/policy.json, else /etc/containers/policy.json; null when none exists
    /// (then rkt's rule applies). A file named explicitly must exist.
    /// </summary>
    public static TrustPolicy? LoadDefault(string? explicitPath)
    {
        var (path, named) = Locate(explicitPath);
        return named || File.Exists(path) ? Load(path) : null;
    }

    /// <summary>
    /// The file the policy is read from (and `trust set` writes), and whether it was named (--policy,
    /// $KUBEFLY_POLICY) rather than found by the default lookup.
    /// </summary>
    public static (string Path, bool Named) Locate(string? explicitPath)
    {
        var named = explicitPath ?? (Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } env ? env : null);
        if (named is not null)
        {
            return (System.IO.Path.GetFullPath(named), true);
        }

        if (Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home && System.IO.Path.Combine(home, ".config", "containers", "policy.json") is var user && File.Exists(user))
        {
            return (user, false);
        }

        return (SystemPath, false);
    }

    public static TrustPolicy Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new TrustException($"policy file {path} does not exist (create it, or name another with --policy=FILE)");
        }

        return Parse(BoundedFile.Read(path, MaxPolicyBytes, "policy file"), path);
    }

    public static TrustPolicy Parse(ReadOnlySpan<byte> utf8, string path)
    {
        LocatedJson root;
        try
        {
            root = LocatedJson.Parse(utf8);
        }
        catch (LocatedJsonException e)
        {
            throw new PolicyFileException(path, e.Line, e.Message);
        }

        var reader = new Reader(path);
        var members = reader.Object(root, "the policy", ["default", "transports"], ["default"]);
        var defaultRequirements = reader.Requirements(members["default"], "\"default\"");
        var transports = new Dictionary<string, Dictionary<string, IReadOnlyList<PolicyRequirement>>>(StringComparer.Ordinal);
        if (members.TryGetValue("transports", out var transportsNode))
        {
            foreach (var (transport, scopesNode) in reader.AnyObject(transportsNode, "\"transports\""))
            {
                if (!KnownTransports.Contains(transport))
                {
                    throw new PolicyFileException(path, scopesNode.Line, $"unknown transport \"{UntrustedText.Printable(transport)}\" under \"transports\" (known: {string.Join(", ", KnownTransports.Order(StringComparer.Ordinal))})");
                }

                var scopes = new Dictionary<string, IReadOnlyList<PolicyRequirement>>(StringComparer.Ordinal);
                foreach (var (scope, requirementsNode) in reader.AnyObject(scopesNode, $"transport \"{transport}\""))
                {
                    if (PolicyScopes.Validate(transport, scope) is { } problem)
                    {
                        throw new PolicyFileException(path, requirementsNode.Line, $"transport \"{transport}\": scope \"{UntrustedText.Printable(scope)}\": {problem}");
                    }

                    scopes[scope] = reader.Requirements(requirementsNode, $"transport \"{transport}\" scope \"{UntrustedText.Printable(scope)}\"");
                }

                transports[transport] = scopes;
            }
        }

        return new TrustPolicy(path, defaultRequirements, transports);
    }

    /// <summary>The requirements for <paramref name="reference"/>: its most specific scope, else the transport's "" scope, else "default".</summary>
    public PolicyMatch Match(ImageReference reference)
    {
        var transport = PolicyScopes.TransportName(reference.Transport);
        if (_transports.TryGetValue(transport, out var scopes))
        {
            foreach (var candidate in PolicyScopes.Candidates(reference))
            {
                if (scopes.TryGetValue(candidate, out var requirements))
                {
                    return new PolicyMatch(Path, $"transports.{transport}[\"{candidate}\"]", requirements);
                }
            }

            if (scopes.TryGetValue(string.Empty, out var transportDefault))
            {
                return new PolicyMatch(Path, $"transports.{transport}[\"\"]", transportDefault);
            }
        }

        return new PolicyMatch(Path, "default", Default);
    }

    /// <summary>Walks the parsed document; every complaint names the file and line.</summary>
    private sealed class Reader(string path)
    {
        private const int MaxKeyDataBytes = 1 << 20;

        public Dictionary<string, LocatedJson> Object(LocatedJson node, string what, string[] allowed, string[] required)
        {
            if (node.Kind != LocatedJsonKind.Object)
            {
                throw Fail(node, $"{what} must be an object, not {node.DescribeKind()}");
            }

            var members = new Dictionary<string, LocatedJson>(StringComparer.Ordinal);
            foreach (var (name, value) in node.Members)
            {
                if (!allowed.Contains(name))
                {
                    throw Fail(value, $"unknown key \"{UntrustedText.Printable(name)}\" in {what} (allowed: {string.Join(", ", allowed)})");
                }

                members[name] = value;
            }

            foreach (var name in required)
            {
                if (!members.ContainsKey(name))
                {
                    throw Fail(node, $"{what} has no \"{name}\", which is required");
                }
            }

            return members;
        }

        public IReadOnlyList<KeyValuePair<string, LocatedJson>> AnyObject(LocatedJson node, string what) =>
            node.Kind == LocatedJsonKind.Object ? node.Members : throw Fail(node, $"{what} must be an object, not {node.DescribeKind()}");

        public IReadOnlyList<PolicyRequirement> Requirements(LocatedJson node, string what)
        {
            if (node.Kind != LocatedJsonKind.Array)
            {
                throw Fail(node, $"{what} must be an array of requirements, not {node.DescribeKind()}");
            }

            return node.Items.Select(Requirement).ToList();
        }

        private PolicyRequirement Requirement(LocatedJson node)
        {
            if (node.Kind != LocatedJsonKind.Object)
            {
                throw Fail(node, $"a requirement must be an object, not {node.DescribeKind()}");
            }

            var type = node.Members.FirstOrDefault(m => m.Key == "type").Value
                ?? throw Fail(node, "a requirement has no \"type\"");
            var typeName = String(type, "\"type\"");
            return typeName switch
            {
                "insecureAcceptAnything" => Simple(node, new InsecureAcceptAnything { Line = node.Line }),
                "reject" => Simple(node, new RejectRequirement { Line = node.Line }),
                "signedBy" => SignedBy(node),
                "sigstoreSigned" => SigstoreSigned(node),
                _ => throw Fail(type, $"unknown requirement type \"{UntrustedText.Printable(typeName)}\" (known: insecureAcceptAnything, reject, signedBy, sigstoreSigned)"),
            };
        }

        private PolicyRequirement Simple(LocatedJson node, PolicyRequirement requirement)
        {
            Object(node, $"a \"{requirement.Describe()}\" requirement", ["type"], ["type"]);
            return requirement;
        }

        private SignedByRequirement SignedBy(LocatedJson node)
        {
            var members = Object(node, "a \"signedBy\" requirement", ["type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"], ["type", "keyType"]);
            var keyType = String(members["keyType"], "\"keyType\"");
            if (keyType is not ("GPGKeys" or "X509Certificates" or "signedByGPGKeys" or "signedByX509CAs"))
            {
                throw Fail(members["keyType"], $"unknown keyType \"{UntrustedText.Printable(keyType)}\" (known: GPGKeys, X509Certificates, signedByGPGKeys, signedByX509CAs)");
            }

            var keys = Keys(node, members, ["keyPath", "keyPaths", "keyData"]);
            return new SignedByRequirement(keyType, keys, Identity(members)) { Line = node.Line };
        }

        private SigstoreSignedRequirement SigstoreSigned(LocatedJson node)
        {
            string[] keyFields = ["keyPath", "keyPaths", "keyData", "keyDatas"];
            string[] unsupportedFields = ["fulcio", "pki"];
            string[] rekorFields = ["rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas"];
            var members = Object(node, "a \"sigstoreSigned\" requirement", ["type", .. keyFields, .. unsupportedFields, .. rekorFields, "signedIdentity"], ["type"]);
            var sources = members.Keys.Where(k => keyFields.Contains(k) || unsupportedFields.Contains(k)).ToList();
            if (sources.Count != 1)
            {
                throw Fail(node, $"a \"sigstoreSigned\" requirement needs exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, pki (it has {(sources.Count == 0 ? "none" : string.Join(", ", sources))})");
            }

            var unsupported = new List<string>();
            if (unsupportedFields.Contains(sources[0]))
            {
                unsupported.Add(sources[0] == "fulcio" ? "Fulcio certificates" : "PKI certificates");
            }

            if (members.Keys.Any(rekorFields.Contains))
            {
                unsupported.Add("Rekor transparency-log entries");
            }

            var keys = unsupported.Count > 0 ? [] : Keys(node, members, keyFields);
            var why = unsupported.Count > 0 ? $"requires {string.Join(" and ", unsupported)}" : null;
            return new SigstoreSignedRequirement(keys, why, Identity(members)) { Line = node.Line };
        }

        private List<KeySource> Keys(LocatedJson node, Dictionary<string, LocatedJson> members, string[] fields)
        {
            var present = fields.Where(members.ContainsKey).ToList();
            if (present.Count != 1)
            {
                throw Fail(node, $"exactly one of {string.Join(", ", fields)} is required (found {(present.Count == 0 ? "none" : string.Join(", ", present))})");
            }

            var field = present[0];
            var value = members[field];
            return field switch
            {
                "keyPath" => [KeyPath(value, field)],
                "keyData" => [KeyData(value, field)],
                "keyPaths" => NonEmptyArray(value, field).Select(v => KeyPath(v, field)).ToList(),
                _ => NonEmptyArray(value, field).Select(v => KeyData(v, field)).ToList(),
            };
        }

        private KeySource KeyPath(LocatedJson node, string field)
        {
            var text = String(node, $"\"{field}\"");
            return System.IO.Path.IsPathFullyQualified(text) && !text.Contains('\0', StringComparison.Ordinal)
                ? new KeySource(text, null)
                : throw Fail(node, $"\"{field}\" must be an absolute path, not \"{UntrustedText.Printable(text)}\"");
        }

        private KeySource KeyData(LocatedJson node, string field)
        {
            var text = String(node, $"\"{field}\"");
            if (text.Length > MaxKeyDataBytes * 4 / 3 + 4)
            {
                throw Fail(node, $"\"{field}\" is larger than the limit of {MaxKeyDataBytes} bytes");
            }

            try
            {
                return new KeySource(null, Convert.FromBase64String(text));
            }
            catch (FormatException)
            {
                throw Fail(node, $"\"{field}\" is not valid base64");
            }
        }

        private IReadOnlyList<LocatedJson> NonEmptyArray(LocatedJson node, string field) =>
            node.Kind == LocatedJsonKind.Array && node.Items.Count > 0 ? node.Items : throw Fail(node, $"\"{field}\" must be a non-empty array");

        private SignedIdentity Identity(Dictionary<string, LocatedJson> members)
        {
            if (!members.TryGetValue("signedIdentity", out var node))
            {
                return new MatchRepoDigestOrExactIdentity();
            }

            if (node.Kind != LocatedJsonKind.Object)
            {
                throw Fail(node, $"\"signedIdentity\" must be an object, not {node.DescribeKind()}");
            }

            var typeNode = node.Members.FirstOrDefault(m => m.Key == "type").Value ?? throw Fail(node, "\"signedIdentity\" has no \"type\"");
            var type = String(typeNode, "\"type\"");
            switch (type)
            {
                case "matchExact":
                    Object(node, "signedIdentity matchExact", ["type"], ["type"]);
                    return new MatchExactIdentity();
                case "matchRepoDigestOrExact":
                    Object(node, "signedIdentity matchRepoDigestOrExact", ["type"], ["type"]);
                    return new MatchRepoDigestOrExactIdentity();
                case "matchRepository":
                    Object(node, "signedIdentity matchRepository", ["type"], ["type"]);
                    return new MatchRepositoryIdentity();
                case "exactReference":
                    {
                        var fields = Object(node, "signedIdentity exactReference", ["type", "dockerReference"], ["type", "dockerReference"]);
                        var reference = DockerReference(fields["dockerReference"], "dockerReference");
                        return reference.IsNameOnly
                            ? throw Fail(fields["dockerReference"], "\"dockerReference\" must name a tag or a digest (use exactRepository for a repository)")
                            : new ExactReferenceIdentity(reference);
                    }

                case "exactRepository":
                    {
                        var fields = Object(node, "signedIdentity exactRepository", ["type", "dockerRepository"], ["type", "dockerRepository"]);
                        var repository = DockerReference(fields["dockerRepository"], "dockerRepository");
                        return repository.IsNameOnly
                            ? new ExactRepositoryIdentity(repository)
                            : throw Fail(fields["dockerRepository"], "\"dockerRepository\" must be a repository without a tag or digest");
                    }

                case "remapIdentity":
                    {
                        var fields = Object(node, "signedIdentity remapIdentity", ["type", "prefix", "signedPrefix"], ["type", "prefix", "signedPrefix"]);
                        return new RemapIdentity(Prefix(fields["prefix"], "prefix"), Prefix(fields["signedPrefix"], "signedPrefix"));
                    }

                default:
                    throw Fail(typeNode, $"unknown signedIdentity type \"{UntrustedText.Printable(type)}\" (known: matchExact, matchRepoDigestOrExact, matchRepository, exactReference, exactRepository, remapIdentity)");
            }
        }

        private DockerIdentity DockerReference(LocatedJson node, string field)
        {
            var text = String(node, $"\"{field}\"");
            return DockerIdentity.TryParse(text, out var identity, out var error)
                ? identity
                : throw Fail(node, $"\"{field}\" \"{UntrustedText.Printable(text)}\" is not a docker reference: {error}");
        }

        private string Prefix(LocatedJson node, string field)
        {
            var text = String(node, $"\"{field}\"");
            return PrefixPattern().IsMatch(text)
                ? text
                : throw Fail(node, $"\"{field}\" \"{UntrustedText.Printable(text)}\" must be a registry host, optionally with a namespace or repository (host[:port][/path])");
        }

        private string String(LocatedJson node, string what) =>
            node.Kind == LocatedJsonKind.String ? node.Text! : throw Fail(node, $"{what} must be a string, not {node.DescribeKind()}");

        private PolicyFileException Fail(LocatedJson node, string message) => new(path, node.Line, message);
    }

    [GeneratedRegex(@"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$")]
    private static partial Regex PrefixPattern();
}

/// <summary>A policy file that cannot be used: which file, which line, what is wrong.</summary>
public sealed class PolicyFileException(string path, int line, string message)
    : TrustException($"policy {path}:{line}: {message}")
{
    public string PolicyPath { get; } = path;

    public int Line { get; } = line;
}
