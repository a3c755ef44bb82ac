using System.Text;

namespace Kubefly.Images.Registry;

/// <summary>
/// One challenge of a <c>WWW-Authenticate</c> header (RFC 9110 section 11.6.1): a scheme and either
/// parameters (case-insensitive names) or a token68. Kept by hand: .NET's AuthenticationHeaderValue keeps
/// the parameters as one unparsed string, and a registry's realm, service and scope must be read exactly.
/// </summary>
public sealed record AuthenticationChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters, string? Token68 = null)
{
    public bool IsBearer => Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase);

    public bool IsBasic => Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase);

    public string? this[string name] => Parameters.TryGetValue(name, out var value) ? value : null;

    public string? Realm => this["realm"];

    public string? Service => this["service"];

    /// <summary>The space-separated scopes the challenge asked for (Distribution sends several that way).</summary>
    public IReadOnlyList<string> Scopes => this["scope"] is { Length: > 0 } scope ? scope.Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];

    /// <summary>
    /// Parses every challenge of one header value. Quoted strings may hold commas, spaces and escaped
    /// quotes; several challenges may share a header. Malformed parts end the parse with what was read.
    /// </summary>
    public static IReadOnlyList<AuthenticationChallenge> Parse(string header)
    {
        var challenges = new List<AuthenticationChallenge>();
        var pos = 0;
        while (true)
        {
            SkipSeparators(header, ref pos, skipCommas: true);
            var scheme = ReadToken(header, ref pos);
            if (scheme.Length == 0)
            {
                return challenges;
            }

            var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            string? token68 = null;
            SkipSeparators(header, ref pos, skipCommas: false);
            var token68Start = pos;
            var candidate = ReadToken68(header, ref pos);
            var afterCandidate = pos;
            SkipSeparators(header, ref pos, skipCommas: false);
            // A token68 stands alone ("Negotiate abc=="); "name=" followed by a value starts parameters.
            if (candidate.Length > 0 && (pos >= header.Length || header[pos] == ','))
            {
                token68 = candidate;
                pos = afterCandidate;
            }
            else
            {
                pos = token68Start;
                ReadParameters(header, ref pos, parameters);
            }

            challenges.Add(new AuthenticationChallenge(scheme, parameters, token68));
        }
    }

    /// <summary>The challenges of every <c>WWW-Authenticate</c> header of a response.</summary>
    public static IReadOnlyList<AuthenticationChallenge> FromHeaders(IEnumerable<string> headerValues) =>
        headerValues.SelectMany(Parse).ToList();

    // After the scheme: name=value pairs separated by commas until the next "Scheme name=" begins.
    private static void ReadParameters(string s, ref int pos, Dictionary<string, string> parameters)
    {
        while (true)
        {
            SkipSeparators(s, ref pos, skipCommas: true);
            var start = pos;
            var name = ReadToken(s, ref pos);
            if (name.Length == 0)
            {
                return;
            }

            SkipSeparators(s, ref pos, skipCommas: false);
            if (pos >= s.Length || s[pos] != '=')
            {
                // Not a parameter: the scheme of the next challenge.
                pos = start;
                return;
            }

            pos++;
            SkipSeparators(s, ref pos, skipCommas: false);
            var value = pos < s.Length && s[pos] == '"' ? ReadQuoted(s, ref pos) : ReadToken(s, ref pos);
            parameters.TryAdd(name, value);
        }
    }

    private static string ReadQuoted(string s, ref int pos)
    {
        var builder = new StringBuilder();
        pos++;
        while (pos < s.Length)
        {
            var c = s[pos++];
            if (c == '"')
            {
                return builder.ToString();
            }

            if (c == '\\' && pos < s.Length)
            {
                c = s[pos++];
            }

            builder.Append(c);
        }

        return builder.ToString();
    }

    private static string ReadToken(string s, ref int pos)
    {
        var start = pos;
        while (pos < s.Length && IsTokenChar(s[pos]))
        {
            pos++;
        }

        return s[start..pos];
    }

    private static string ReadToken68(string s, ref int pos)
    {
        var start = pos;
        while (pos < s.Length && (char.IsAsciiLetterOrDigit(s[pos]) || s[pos] is '-' or '.' or '_' or '~' or '+' or '/'))
        {
            pos++;
        }

        while (pos < s.Length && s[pos] == '=')
        {
            pos++;
        }

        return s[start..pos];
    }

    private static void SkipSeparators(string s, ref int pos, bool skipCommas)
    {
        while (pos < s.Length && (s[pos] is ' ' or '\t' || (skipCommas && s[pos] == ',')))
        {
            pos++;
        }
    }

    private static bool IsTokenChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';
}
