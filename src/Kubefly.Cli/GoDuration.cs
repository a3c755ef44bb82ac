using System.Globalization;
using System.Text.RegularExpressions;
using Kubefly.Oci;

namespace Kubefly.Cli;

/// <summary>Go's time.Duration syntax, which rkt's flags used: "30m0s", "24h0m0s", "1.5h", "10s", "500ms".</summary>
public static partial class GoDuration
{
    public static TimeSpan Parse(string text, string flag)
    {
        if (text == "0")
        {
            return TimeSpan.Zero;
        }

        var matches = UnitPattern().Matches(text);
        if (matches.Count == 0 || string.Concat(matches.Select(m => m.Value)) != text)
        {
            throw new UsageException($"invalid duration \"{UntrustedText.Printable(text)}\" for {flag} (e.g. 30m0s, 24h, 10s)");
        }

        var total = TimeSpan.Zero;
        foreach (Match match in matches)
        {
            var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            total += match.Groups[2].Value switch
            {
                "h" => TimeSpan.FromHours(value),
                "m" => TimeSpan.FromMinutes(value),
                "s" => TimeSpan.FromSeconds(value),
                "ms" => TimeSpan.FromMilliseconds(value),
                "us" or "µs" => TimeSpan.FromMicroseconds(value),
                _ => TimeSpan.FromTicks((long)(value / 100)),
            };
        }

        return total;
    }

    [GeneratedRegex(@"([0-9]+(?:\.[0-9]+)?)(h|ms|us|µs|ns|m|s)")]
    private static partial Regex UnitPattern();
}
