using Kubefly.Oci;

namespace Kubefly.Cli;

/// <summary>rkt's global flags; accepted before or after the subcommand.</summary>
public sealed record GlobalOptions
{
    public const string DefaultDir = "/var/lib/kubefly";

    public string Dir { get; init; } = Environment.GetEnvironmentVariable("KUBEFLY_DIR") is { Length: > 0 } env ? env : DefaultDir;

    public InsecureOptions Insecure { get; init; }

    public bool Debug { get; init; }

    public bool TrustKeysFromHttps { get; init; }

    /// <summary>
    /// Consumes one global flag at tokens[index] (with its value, "--dir X" or "--dir=X") and returns the
    /// options updated, or null when the token is not a global flag. Used by the hand-parsed commands
    /// (run, enter) whose grammar System.CommandLine cannot express.
    /// </summary>
    public GlobalOptions? TryConsume(IReadOnlyList<string> tokens, ref int index)
    {
        var token = tokens[index];
        if (!token.StartsWith("--", StringComparison.Ordinal))
        {
            return null;
        }

        var eq = token.IndexOf('=', StringComparison.Ordinal);
        var name = eq >= 0 ? token[..eq] : token;
        string? inline = eq >= 0 ? token[(eq + 1)..] : null;
        switch (name)
        {
            case "--dir":
                return this with { Dir = Value(tokens, ref index, name, inline) };
            case "--insecure-options":
                return this with { Insecure = Insecure | InsecureOptionsParser.Parse(Value(tokens, ref index, name, inline)) };
            case "--debug":
                return this with { Debug = ParseBool(name, inline) };
            case "--trust-keys-from-https":
                return this with { TrustKeysFromHttps = ParseBool(name, inline) };
            case "--local-config" or "--system-config" or "--user-config":
                Value(tokens, ref index, name, inline);
                return this;
            default:
                return null;
        }
    }

    public static bool ParseBool(string name, string? value) => value switch
    {
        null or "true" or "1" => true,
        "false" or "0" => false,
        _ => throw new UsageException($"invalid value \"{value}\" for {name}: expected true or false"),
    };

    private static string Value(IReadOnlyList<string> tokens, ref int index, string name, string? inline)
    {
        if (inline is not null)
        {
            return inline;
        }

        if (index + 1 >= tokens.Count)
        {
            throw new UsageException($"flag needs an argument: {name}");
        }

        index++;
        return tokens[index];
    }
}
