using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using Kubefly.Linux.Systemd;
using Kubefly.Oci;

namespace Kubefly.Pods.Updates;

/// <summary>What the health gate asks of a unit after its restart (from the unit's KUBEFLY_HEALTH_* variables).</summary>
/// <param name="Url">Must answer 200 within <paramref name="Timeout"/>; null: no URL, the unit need only stay up.</param>
/// <param name="Settle">How long the main process must stay the same process after the restart (and after the 200).</param>
public sealed record HealthRequirement(Uri? Url, TimeSpan Timeout, TimeSpan Settle)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    /// <summary>From the pod record's KUBEFLY_HEALTH_URL and KUBEFLY_HEALTH_TIMEOUT; throws <see cref="InvalidValueException"/> for values that make no sense.</summary>
    public static HealthRequirement From(PodRecord record, TimeSpan settle)
    {
        Uri? url = null;
        if (record.HealthUrl is { Length: > 0 } text)
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https"))
            {
                throw new InvalidValueException($"unit {record.Unit}: {PodRunner.HealthUrlVariable}=\"{UntrustedText.Printable(text)}\" is not an http:// or https:// URL");
            }
        }

        var timeout = DefaultTimeout;
        if (record.HealthTimeout is { Length: > 0 } duration)
        {
            try
            {
                timeout = GoDuration.Parse(duration);
            }
            catch (InvalidValueException e)
            {
                throw new InvalidValueException($"unit {record.Unit}: {PodRunner.HealthTimeoutVariable}: {e.Message}");
            }
        }

        return new HealthRequirement(url, timeout, settle);
    }
}

/// <summary>
/// Decides whether a restarted unit is healthy: its restart job ended "done" (for Type=notify, systemd
/// waited for READY=1), the main process stays the same process, never restarted by Restart=, for the
/// settle time, and the health URL, when set, answers 200 before the timeout. A unit that flaps under
/// Restart=always shows as a new main PID or a higher NRestarts, never as "failed".
/// </summary>
public static class HealthGate
{
    // Often at first, when a warm start usually answers (so the restart window is measured, not the
    // polling), then every 100 ms for the rest of the timeout.
    private static TimeSpan PollInterval(TimeSpan elapsed) => elapsed < TimeSpan.FromSeconds(2) ? TimeSpan.FromMilliseconds(10) : TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Null when healthy, else why not (in an operator's words); <paramref name="sinceRestart"/> runs from
    /// the restart's start, and <paramref name="healthyAt"/> is its reading when the unit was first seen healthy.
    /// </summary>
    public static async Task<string?> CheckAsync(IServiceManager manager, string unit, string jobResult, HealthRequirement requirement, HttpClient http, Stopwatch sinceRestart, StrongBox<TimeSpan> healthyAt, CancellationToken cancellationToken)
    {
        if (jobResult != "done")
        {
            return $"the restart job ended \"{jobResult}\"" + jobResult switch
            {
                "timeout" => " (the unit did not become ready in time: for Type=notify, no READY=1)",
                "failed" => " (the unit failed to start)",
                "dependency" => " (a unit it requires failed)",
                _ => string.Empty,
            };
        }

        var first = await manager.GetStatusAsync(unit, cancellationToken).ConfigureAwait(false);
        if (first.MainPid == 0)
        {
            return $"the unit's main process did not stay up: it was gone right after the restart (the unit is {first.ActiveState}, {first.SubState})";
        }

        if (first.ActiveState != "active")
        {
            return $"the unit is {first.ActiveState} ({first.SubState}) right after its restart";
        }

        var clock = Stopwatch.StartNew();
        var healthy = requirement.Url is null;
        healthyAt.Value = sinceRestart.Elapsed;
        string lastAnswer = "no answer yet";
        while (true)
        {
            var now = await manager.GetStatusAsync(unit, cancellationToken).ConfigureAwait(false);
            if (now.MainPid != first.MainPid || now.Restarts != first.Restarts || now.ActiveState != "active")
            {
                return now.MainPid != first.MainPid || now.Restarts != first.Restarts
                    ? $"the unit's main process did not stay up (PID {first.MainPid} became {(now.MainPid == 0 ? "none" : now.MainPid.ToString(System.Globalization.CultureInfo.InvariantCulture))}, {now.Restarts - first.Restarts} restart(s) by Restart=) {clock.Elapsed.TotalSeconds:0.0}s after the restart"
                    : $"the unit became {now.ActiveState} ({now.SubState}) {clock.Elapsed.TotalSeconds:0.0}s after the restart";
            }

            if (!healthy && requirement.Url is { } url)
            {
                (healthy, lastAnswer) = await AskAsync(http, url, cancellationToken).ConfigureAwait(false);
                healthyAt.Value = sinceRestart.Elapsed;
            }

            if (healthy && clock.Elapsed >= requirement.Settle)
            {
                return null;
            }

            if (!healthy && clock.Elapsed >= requirement.Timeout)
            {
                return $"{requirement.Url} did not answer 200 within {requirement.Timeout.TotalSeconds:0}s (last: {lastAnswer})";
            }

            await Task.Delay(PollInterval(clock.Elapsed), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<(bool Healthy, string Answer)> AskAsync(HttpClient http, Uri url, CancellationToken cancellationToken)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            return (response.StatusCode == HttpStatusCode.OK, $"HTTP {(int)response.StatusCode}");
        }
        catch (HttpRequestException e)
        {
            return (false, UntrustedText.Printable(e.Message));
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, "no answer within the request timeout");
        }
    }
}
