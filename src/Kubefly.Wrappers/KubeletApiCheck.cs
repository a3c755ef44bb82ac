using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Kubefly.Wrappers;

/// <summary>One way the kubelet's API is open, and what closes it.</summary>
public sealed record KubeletApiFinding(string Problem, string Fix)
{
    public override string ToString() => $"{Problem}; fix: {Fix}";
}

/// <summary>The outcome of reading the kubelet's flags (and its --config file).</summary>
public sealed record KubeletApiReport
{
    public IReadOnlyList<KubeletApiFinding> Findings { get; init; } = [];

    /// <summary>Flags current kubelets no longer accept, each with what replaced it (still passed through).</summary>
    public IReadOnlyList<string> RemovedFlagHints { get; init; } = [];

    /// <summary>Why the check could not be completed (an unreadable or malformed --config file), or null.</summary>
    public string? Incomplete { get; init; }

    public bool IsSecure => Findings.Count == 0 && Incomplete is null;
}

/// <summary>What to do about an open kubelet API: <c>KUBEFLY_KUBELET_API=warn|enforce|off</c>.</summary>
public enum KubeletApiPolicy
{
    Warn,
    Enforce,
    Off,
}

/// <summary>
/// The seed's "Securing the Kubelet API", made a check: by default the kubelet answers anyone. Reads
/// the flags the unit passes and the KubeletConfiguration file named by --config (flags win over the
/// file, as in the kubelet). Defaults differ by source: without a config file, old kubelets allowed
/// anonymous requests, authorized everything (AlwaysAllow) and served the read-only port 10255; a
/// KubeletConfiguration's defaults are anonymous off, Webhook and no read-only port.
/// </summary>
public static class KubeletApiCheck
{
    public const string PolicyVariable = "KUBEFLY_KUBELET_API";
    private const int LegacyReadOnlyPort = 10255;

    private static readonly Dictionary<string, string> RemovedFlags = new(StringComparer.Ordinal)
    {
        ["--api-servers"] = "current kubelets read the API server from a kubeconfig: pass --kubeconfig=FILE",
        ["--require-kubeconfig"] = "current kubelets always use the file given by --kubeconfig: drop the flag",
        ["--allow-privileged"] = "current kubelets no longer gate privileged containers: use admission control",
        ["--cadvisor-port"] = "current kubelets no longer serve cAdvisor on its own port: read /metrics/cadvisor",
        ["--experimental-bootstrap-kubeconfig"] = "renamed --bootstrap-kubeconfig",
        ["--network-plugin-dir"] = "replaced by --cni-bin-dir",
        ["--register-schedulable"] = "replaced by --register-with-taints",
        ["--babysit-daemons"] = "removed: drop the flag",
        ["--reconcile-cidr"] = "removed: the pod CIDR comes from the API server",
    };

    public static KubeletApiPolicy ReadPolicy(string? value) => value switch
    {
        null or "" or "warn" => KubeletApiPolicy.Warn,
        "enforce" => KubeletApiPolicy.Enforce,
        "off" => KubeletApiPolicy.Off,
        _ => throw new WrapperConfigurationException($"{PolicyVariable}={value}: expected warn, enforce or off"),
    };

    /// <summary>Checks the kubelet's arguments; <paramref name="readFile"/> reads a --config file (host path).</summary>
    public static KubeletApiReport Evaluate(IReadOnlyList<string> kubeletArguments, Func<string, string> readFile)
    {
        try
        {
            return EvaluateFlags(kubeletArguments, readFile);
        }
        catch (FormatException e)
        {
            // The kubelet itself will refuse such a flag; say why the check stopped.
            return new KubeletApiReport { Incomplete = $"cannot check the kubelet's flags: {e.Message}" };
        }
    }

    private static KubeletApiReport EvaluateFlags(IReadOnlyList<string> kubeletArguments, Func<string, string> readFile)
    {
        var flags = ParseFlags(kubeletArguments, out var hints);

        bool? anonymous = null;
        string? authorizationMode = null;
        int? readOnlyPort = null;
        string? incomplete = null;
        string? configFile = null;

        if (flags.TryGetValue("--config", out var config) && config is not null)
        {
            if (Directory.Exists(config))
            {
                // kubelets before 1.10 took the static pod manifest directory as --config.
                hints.Add($"--config {config} names a directory (the old meaning, the manifest path): current kubelets want --pod-manifest-path={config}");
            }
            else
            {
                try
                {
                    var file = ReadConfiguration(readFile(config), config);
                    configFile = config;
                    anonymous = file.AnonymousEnabled ?? false;
                    authorizationMode = file.AuthorizationMode ?? "Webhook";
                    readOnlyPort = file.ReadOnlyPort ?? 0;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or YamlException or FormatException)
                {
                    incomplete = $"cannot check the kubelet configuration file {config}: {e.Message}";
                }
                catch (Exception e) when (e is InvalidOperationException or ArgumentException)
                {
                    // YamlDotNet's scanner throws these for some malformed input (found by fuzzing registries.d).
                    incomplete = $"cannot check the kubelet configuration file {config}: not valid YAML";
                }
            }
        }

        // Without a usable config file the flag defaults apply.
        anonymous ??= true;
        authorizationMode ??= "AlwaysAllow";
        readOnlyPort ??= LegacyReadOnlyPort;

        string fromAnonymous = configFile is null ? "the default" : $"{configFile}";
        if (flags.TryGetValue("--anonymous-auth", out var anonymousFlag))
        {
            anonymous = ParseBool(anonymousFlag ?? "true", "--anonymous-auth");
            fromAnonymous = "--anonymous-auth";
        }

        string fromMode = configFile is null ? "the default" : configFile;
        if (flags.TryGetValue("--authorization-mode", out var modeFlag) && modeFlag is not null)
        {
            authorizationMode = modeFlag;
            fromMode = "--authorization-mode";
        }

        string fromPort = configFile is null ? "the default" : configFile;
        if (flags.TryGetValue("--read-only-port", out var portFlag) && portFlag is not null)
        {
            readOnlyPort = int.TryParse(portFlag, NumberStyles.Integer, CultureInfo.InvariantCulture, out var port)
                ? port
                : throw new FormatException($"--read-only-port={portFlag}: not a number");
            fromPort = "--read-only-port";
        }

        var findings = new List<KubeletApiFinding>();
        if (anonymous == true)
        {
            findings.Add(new(
                $"the kubelet API accepts anonymous requests (anonymous authentication is on, from {fromAnonymous})",
                configFile is null ? "pass --anonymous-auth=false" : $"pass --anonymous-auth=false or set authentication.anonymous.enabled: false in {configFile}"));
        }

        if (string.Equals(authorizationMode, "AlwaysAllow", StringComparison.Ordinal))
        {
            findings.Add(new(
                $"the kubelet API authorizes every request (authorization mode AlwaysAllow, from {fromMode})",
                configFile is null
                    ? "pass --authorization-mode=Webhook (with --authentication-token-webhook and --client-ca-file)"
                    : $"pass --authorization-mode=Webhook or set authorization.mode: Webhook in {configFile}"));
        }

        if (readOnlyPort is > 0)
        {
            findings.Add(new(
                $"the kubelet serves its unauthenticated read-only API on port {readOnlyPort} (from {fromPort})",
                configFile is null ? "pass --read-only-port=0" : $"pass --read-only-port=0 or set readOnlyPort: 0 in {configFile}"));
        }

        return new KubeletApiReport { Findings = findings, RemovedFlagHints = hints, Incomplete = incomplete };
    }

    /// <summary>The settings that matter here from a KubeletConfiguration (YAML or JSON); null where absent.</summary>
    public sealed record ConfigurationSettings(bool? AnonymousEnabled, string? AuthorizationMode, int? ReadOnlyPort);

    public static ConfigurationSettings ReadConfiguration(string text, string nameForErrors)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        if (stream.Documents.Count == 0)
        {
            return new ConfigurationSettings(null, null, null);
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new FormatException($"{nameForErrors}: not a KubeletConfiguration (the top level is not a mapping)");
        }

        var anonymous = Scalar(root, "authentication", "anonymous", "enabled");
        var mode = Scalar(root, "authorization", "mode");
        var port = Scalar(root, "readOnlyPort");
        return new ConfigurationSettings(
            anonymous is null ? null : ParseBool(anonymous, $"{nameForErrors}: authentication.anonymous.enabled"),
            mode,
            port is null
                ? null
                : int.TryParse(port, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
                    ? value
                    : throw new FormatException($"{nameForErrors}: readOnlyPort {port} is not a number"));
    }

    private static string? Scalar(YamlMappingNode root, params string[] path)
    {
        YamlNode current = root;
        foreach (var key in path)
        {
            if (current is not YamlMappingNode mapping || !mapping.Children.TryGetValue(new YamlScalarNode(key), out var next))
            {
                return null;
            }

            current = next;
        }

        return current is YamlScalarNode { Value: { } value } scalar && !(scalar.Style == ScalarStyle.Plain && value is "null" or "~" or "")
            ? value
            : null;
    }

    /// <summary>pflag's grammar: `--name=value`, `--name value` (not for booleans), last one wins, stop at `--`.</summary>
    private static Dictionary<string, string?> ParseFlags(IReadOnlyList<string> arguments, out List<string> hints)
    {
        var booleans = new HashSet<string>(StringComparer.Ordinal) { "--anonymous-auth", "--require-kubeconfig", "--allow-privileged", "--register-schedulable", "--babysit-daemons", "--reconcile-cidr" };
        var flags = new Dictionary<string, string?>(StringComparer.Ordinal);
        hints = [];
        var seenRemoved = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < arguments.Count; i++)
        {
            var argument = arguments[i];
            if (argument == "--")
            {
                break;
            }

            if (!argument.StartsWith("--", StringComparison.Ordinal))
            {
                continue;
            }

            var eq = argument.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? argument : argument[..eq];
            string? value = eq < 0 ? null : argument[(eq + 1)..];
            if (value is null && !booleans.Contains(name) && i + 1 < arguments.Count && !arguments[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = arguments[++i];
            }

            flags[name] = value;
            if (RemovedFlags.TryGetValue(name, out var hint) && seenRemoved.Add(name))
            {
                hints.Add($"{name} is not accepted by current kubelets: {hint} (passed through unchanged)");
            }
        }

        return flags;
    }

    private static bool ParseBool(string value, string what) => value.ToLowerInvariant() switch
    {
        "true" or "yes" or "on" or "1" or "t" => true,
        "false" or "no" or "off" or "0" or "f" => false,
        _ => throw new FormatException($"{what}: {value} is not a boolean"),
    };
}
