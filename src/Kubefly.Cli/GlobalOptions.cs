using Kubefly.Oci;

namespace Kubefly.Cli;

/// <summary>rkt's global flags; accepted before or after the subcommand.</summary>
public sealed record GlobalOptions
{
    public const string DefaultDir = "/var/lib/kubefly";

    /// <summary>
    /// The state directory, made absolute once, here: the pod layer and the fly stage need absolute
    /// paths, and a relative one would be resolved again against whatever directory each step is in.
    /// </summary>
    public string Dir
    {
        get;
        init => field = Absolute(value);
    }

    = Absolute(Environment.GetEnvironmentVariable("KUBEFLY_DIR") is { Length: > 0 } env ? env : DefaultDir);

    public InsecureOptions Insecure { get; init; }

    /// <summary>--debug: a failure also prints its stack trace (see <see cref="EngineCommandLine.Fail"/>).</summary>
    public bool Debug
    {
        get;
        init
        {
            field = value;
            EngineCommandLine.DebugRequested |= value;
        }
    }

    public bool TrustKeysFromHttps { get; init; }

    /// <summary>
    /// --transient-pods (or KUBEFLY_TRANSIENT_PODS=true): `run` makes its pod under /run, where the reboot
    /// ends it (docs/adr/0015-transient-pods.md). Every other command sees both kinds of pod either way.
    /// </summary>
    public bool TransientPods { get; init; } = ParseBool(TransientPodsVariable, Environment.GetEnvironmentVariable(TransientPodsVariable) is { Length: > 0 } env ? env : "false");

    public const string TransientPodsVariable = "KUBEFLY_TRANSIENT_PODS";

    /// <summary>--policy: the trust policy file, or null for the default lookup (see Kubefly.Trust.Policy.TrustPolicy.LoadDefault).</summary>
    public string? Policy
    {
        get;
        init => field = value is { Length: 0 } or null || value.Contains('\0', StringComparison.Ordinal)
            ? throw new UsageException("--policy: name a policy file")
            : Path.GetFullPath(value);
    }

    /// <summary>
    /// Every global flag and what its value sets: the one place they are interpreted, whether the token
    /// came through System.CommandLine (<see cref="GlobalOptionSet.Read"/>) or a hand-parsed grammar
    /// (<see cref="TryConsume"/>). Booleans take their value only inline ("--debug=false"), as rkt's did.
    /// </summary>
    private static readonly Dictionary<string, (bool IsBoolean, Func<GlobalOptions, string?, GlobalOptions> Apply)> Flags = new(StringComparer.Ordinal)
    {
        ["--dir"] = (false, (options, value) => options with { Dir = value! }),
        ["--insecure-options"] = (false, (options, value) => options with { Insecure = options.Insecure | InsecureOptionsParser.Parse(value!) }),
        ["--policy"] = (false, (options, value) => options with { Policy = value }),
        ["--debug"] = (true, (options, value) => options with { Debug = ParseBool("--debug", value) }),
        ["--trust-keys-from-https"] = (true, (options, value) => options with { TrustKeysFromHttps = ParseBool("--trust-keys-from-https", value) }),
        ["--transient-pods"] = (true, (options, value) => options with { TransientPods = ParseBool("--transient-pods", value) }),

        // rkt's configuration directories: kubefly reads containers' configuration files instead.
        ["--local-config"] = (false, (options, _) => options),
        ["--system-config"] = (false, (options, _) => options),
        ["--user-config"] = (false, (options, _) => options),
    };

    /// <summary>These options with one global flag applied (name as "--dir"; value null for a bare boolean).</summary>
    public GlobalOptions With(string name, string? value) => Flags[name].Apply(this, value);

    /// <summary>
    /// Consumes one global flag at tokens[index] (with its value, "--dir X" or "--dir=X") and returns the
    /// options updated, or null when the token is not a global flag. Used by the hand-parsed commands
    /// (run, enter, status) whose grammar System.CommandLine cannot express.
    /// </summary>
    public GlobalOptions? TryConsume(IReadOnlyList<string> tokens, ref int index)
    {
        var token = tokens[index];
        if (!token.StartsWith("--", StringComparison.Ordinal))
        {
            return null;
        }

        var (name, inline) = FlagTokens.Split(token);
        if (!Flags.TryGetValue(name, out var flag))
        {
            return null;
        }

        return flag.Apply(this, flag.IsBoolean ? inline : FlagTokens.Value(tokens, ref index, name, inline));
    }

    private static string Absolute(string directory) => directory switch
    {
        "" => throw new UsageException("--dir: the state directory must not be empty"),
        _ when directory.Contains('\0', StringComparison.Ordinal) => throw new UsageException("--dir: the state directory must not contain a NUL character"),
        _ => Path.GetFullPath(directory),
    };

    public static bool ParseBool(string name, string? value) => value switch
    {
        null or "true" or "1" => true,
        "false" or "0" => false,
        _ => throw new UsageException($"invalid value \"{value}\" for {name}: expected true or false"),
    };
}
