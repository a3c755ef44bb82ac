using System.Text;

namespace Kubefly.Wrappers;

/// <summary>
/// How the original bash wrappers turned variables into words, and how `set -x` printed them. Kept by
/// hand: the contract is bash's own word splitting of an unquoted expansion (no quotes, no escapes), which
/// no .NET library reproduces, and a general shell-words parser would split differently.
/// </summary>
public static class ShellWords
{
    /// <summary>
    /// An unquoted <c>$VAR</c> expansion: split on the default IFS (space, tab, newline), empty fields
    /// dropped. No quote processing, as in the shell: a quote character inside the value is literal.
    /// (Pathname expansion of the words is not reproduced.)
    /// </summary>
    public static IReadOnlyList<string> Split(string? value) =>
        string.IsNullOrEmpty(value)
            ? []
            : value.Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);

    /// <summary>A command line as bash's xtrace prints it: `+ word word 'word with space'`.</summary>
    public static string Trace(IEnumerable<string> words) => "+ " + string.Join(' ', words.Select(Quote));

    /// <summary>Single-quotes a word when the shell would need it to read it back as one word.</summary>
    public static string Quote(string word)
    {
        if (word.Length > 0 && word.All(IsPlain))
        {
            return word;
        }

        var quoted = new StringBuilder("'");
        foreach (var c in word)
        {
            quoted.Append(c == '\'' ? "'\\''" : c.ToString());
        }

        return quoted.Append('\'').ToString();
    }

    private static bool IsPlain(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or ',' or '=' or ':' or '+' or '@' or '%';
}
