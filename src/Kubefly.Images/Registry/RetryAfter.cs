using System.Net.Http.Headers;

namespace Kubefly.Images.Registry;

/// <summary>The <c>Retry-After</c> header, as .NET parses it (delay-seconds and the three HTTP date forms), bounded.</summary>
public static class RetryAfter
{
    /// <summary>The delay asked for, capped at <paramref name="max"/>; null when absent or unreadable. Dates in the past mean zero.</summary>
    public static TimeSpan? From(HttpResponseHeaders headers, DateTimeOffset now, TimeSpan max)
    {
        if (headers.RetryAfter is not { } parsed)
        {
            return null;
        }

        var delay = parsed.Delta ?? (parsed.Date is { } date ? date - now : null);
        return delay switch
        {
            null => null,
            { } d when d < TimeSpan.Zero => TimeSpan.Zero,
            { } d when d > max => max,
            { } d => d,
        };
    }
}
