
namespace Kubefly.Cli;

/// <summary>
/// rkt's long-flag tokens ("--name=value" or "--name value"), for the hand-parsed grammars: run's
/// flags here, and the global flags the command line accepts among them.
/// </summary>
public static class FlagTokens
{
    /// <summary>"--name=value" gives ("--name", "value"); "--name" gives ("--name", null).</summary>
    public static (string Name, string? Inline) Split(string token)
    {
        var eq = token.IndexOf('=', StringComparison.Ordinal);
        return eq >= 0 ? (token[..eq], token[(eq + 1)..]) : (token, null);
    }

    /// <summary>The flag's value: inline, or the next token (consumed).</summary>
    public static string Value(IReadOnlyList<string> tokens, ref int index, string name, string? inline)
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
