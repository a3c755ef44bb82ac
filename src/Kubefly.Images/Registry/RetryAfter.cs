using System.Globalization;
using System.Net.Http.Headers;

namespace Kubefly.Images.Registry;

/// <summary>The <c>Retry-After</c> header: delay-seconds or an HTTP date.</summary>
public static class RetryAfter
{
    /// <summary>The delay asked for, capped at <paramref name="max"/>; null when absent or unreadable. Dates in the past mean zero.</summary>
    public static TimeSpan? Parse(string? value, DateTimeOffset now, TimeSpan max)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        value = value.Trim();
        TimeSpan delay;
        if (value.All(char.IsAsciiDigit))
        {
            delay = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds < max.TotalSeconds
                ? TimeSpan.FromSeconds(seconds)
                : max;
        }
        else if (DateTimeOffset.TryParseExact(value, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date) ||
                 DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out date))
        {
            delay = date - now;
        }
        else
        {
            return null;
        }

        return delay < TimeSpan.Zero ? TimeSpan.Zero : delay > max ? max : delay;
    }

    /// <summary>Reads the header of a response.</summary>
    public static TimeSpan? From(HttpResponseHeaders headers, DateTimeOffset now, TimeSpan max)
    {
        if (headers.RetryAfter is { } parsed)
        {
            var delay = parsed.Delta ?? (parsed.Date is { } date ? date - now : (TimeSpan?)null);
            if (delay is { } d)
            {
                return d < TimeSpan.Zero ? TimeSpan.Zero : d > max ? max : d;
            }
        }

        return headers.TryGetValues("Retry-After", out var values) ? Parse(values.FirstOrDefault(), now, max) : null;
    }
}
