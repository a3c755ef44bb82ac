using System.Globalization;
using System.Text;
using Kubefly.Oci;

namespace Kubefly.Pods;

/// <summary>
/// Durations in Go's syntax, as rkt's flags took and printed them ("30m0s", "24h0m0s", "1.5h", "300ms").
/// Precision is .NET's tick (100 ns). Kept by hand: TimeSpan's parsers know neither Go's unit suffixes
/// nor its output form, and units written for rkt pass these strings unchanged.
/// </summary>
public static class GoDuration
{
    private const long NanosecondsPerTick = 100;

    /// <summary>Parses like Go's time.ParseDuration; the error text follows Go's too.</summary>
    public static TimeSpan Parse(string text)
    {
        if (!TryParse(text, out var value, out var error))
        {
            throw new InvalidValueException(error);
        }

        return value;
    }

    public static bool TryParse(string text, out TimeSpan value, out string error)
    {
        value = TimeSpan.Zero;
        error = string.Empty;
        var quoted = $"\"{text}\"";
        var s = text.AsSpan();
        var negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
        {
            negative = s[0] == '-';
            s = s[1..];
        }

        if (s.SequenceEqual("0"))
        {
            return true;
        }

        if (s.IsEmpty)
        {
            error = $"time: invalid duration {quoted}";
            return false;
        }

        decimal totalNanoseconds = 0;
        while (!s.IsEmpty)
        {
            var start = 0;
            while (start < s.Length && (char.IsAsciiDigit(s[start]) || s[start] == '.'))
            {
                start++;
            }

            var number = s[..start];
            if (number.IsEmpty || number.SequenceEqual(".") || number.Count('.') > 1)
            {
                error = $"time: invalid duration {quoted}";
                return false;
            }

            s = s[start..];
            var unitLength = 0;
            while (unitLength < s.Length && s[unitLength] != '.' && !char.IsAsciiDigit(s[unitLength]))
            {
                unitLength++;
            }

            if (unitLength == 0)
            {
                error = $"time: missing unit in duration {quoted}";
                return false;
            }

            var unit = s[..unitLength].ToString();
            s = s[unitLength..];
            decimal? scale = unit switch
            {
                "ns" => 1m,
                "us" or "\u00b5s" or "\u03bcs" => 1_000m,
                "ms" => 1_000_000m,
                "s" => 1_000_000_000m,
                "m" => 60m * 1_000_000_000m,
                "h" => 3600m * 1_000_000_000m,
                _ => null,
            };
            if (scale is null)
            {
                error = $"time: unknown unit \"{unit}\" in duration {quoted}";
                return false;
            }

            totalNanoseconds += decimal.Parse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture) * scale.Value;
            if (totalNanoseconds > long.MaxValue)
            {
                error = $"time: invalid duration {quoted}";
                return false;
            }
        }

        var ticks = (long)(totalNanoseconds / NanosecondsPerTick);
        value = TimeSpan.FromTicks(negative ? -ticks : ticks);
        return true;
    }

    /// <summary>Formats like Go's Duration.String: "0s", "1.5s", "30m0s", "24h0m0s", "250ms".</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero)
        {
            return "0s";
        }

        var negative = value < TimeSpan.Zero;
        var nanoseconds = (decimal)Math.Abs(value.Ticks) * NanosecondsPerTick;
        var builder = new StringBuilder();
        if (negative)
        {
            builder.Append('-');
        }

        if (nanoseconds < 1_000_000_000m)
        {
            var (divisor, unit) = nanoseconds switch
            {
                < 1_000m => (1m, "ns"),
                < 1_000_000m => (1_000m, "\u00b5s"),
                _ => (1_000_000m, "ms"),
            };
            builder.Append(Fraction(nanoseconds / divisor)).Append(unit);
            return builder.ToString();
        }

        var totalSeconds = nanoseconds / 1_000_000_000m;
        var hours = (long)(totalSeconds / 3600);
        var minutes = (long)((totalSeconds - (hours * 3600)) / 60);
        var seconds = totalSeconds - (hours * 3600) - (minutes * 60);
        if (hours > 0)
        {
            builder.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
        }

        if (hours > 0 || minutes > 0)
        {
            builder.Append(minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
        }

        builder.Append(Fraction(seconds)).Append('s');
        return builder.ToString();
    }

    private static string Fraction(decimal value)
    {
        var text = value.ToString("0.#########", CultureInfo.InvariantCulture);
        return text;
    }
}
