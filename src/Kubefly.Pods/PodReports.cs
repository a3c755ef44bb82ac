using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kubefly.Pods;

/// <summary>`status` and `list` output in rkt's shapes: key=value lines, a tab-aligned table, or rkt's v1 JSON.</summary>
public static class PodReports
{
    /// <summary>
    /// rkt's status lines. No `app-NAME=CODE` line is ever printed: fly execs the app in place of the
    /// engine, so no process outlives it to collect its exit status (systemd has it: `systemctl status`).
    /// </summary>
    /// <param name="tagDigest">The digest the store's tag of an image name names now (null when the store has no such tag).</param>
    public static IReadOnlyList<string> StatusLines(Pod pod, Func<string, string?>? tagDigest = null)
    {
        var state = pod.State;
        var lines = new List<string>
        {
            $"state={state.Describe()}",
            $"created={GoTime.Format(pod.CreatedAt)}",
        };
        if (pod.StartedAt is { } started)
        {
            lines.Add($"started={GoTime.Format(started)}");
        }

        if (state is PodState.Running or PodState.Exited)
        {
            // fly pods share the host's network: rkt printed an empty list for them.
            lines.Add("networks=");
        }

        if (state is not (PodState.Running or PodState.Deleting or PodState.ExitedDeleting or PodState.Exited or PodState.ExitedGarbage))
        {
            return lines;
        }

        if (pod.Pid is { } pid)
        {
            lines.Add($"pid={pid.ToString(CultureInfo.InvariantCulture)}");
        }

        if (state == PodState.Running && pod.Processes.Count > 0)
        {
            // kubefly's addition: every process still in the pod, the app's daemons included.
            lines.Add($"pids={string.Join(',', pod.Processes.Order())}");
        }

        lines.Add($"exited={(state is PodState.Exited or PodState.ExitedGarbage ? "true" : "false")}");

        // kubefly's additions, after rkt's lines: what runs (the digest `kubefly auto-update` compares
        // with its tag's) and the systemd unit it runs in.
        if (pod.Record is { } record)
        {
            lines.Add($"image={record.Image}");
            lines.Add($"image-digest={record.ManifestDigest}");

            // What a restart would run: after an update or a rollback moved the tag, it differs.
            if (tagDigest?.Invoke(record.Image) is { } tagged)
            {
                lines.Add($"tag-digest={tagged}");
            }

            if (record.Unit is { } unit)
            {
                lines.Add($"unit={unit}");
            }
        }

        return lines;
    }

    /// <summary>rkt's v1 API pod (`--format=json`): times of the pod in seconds, of its app in nanoseconds.</summary>
    public static ApiPod ToApi(Pod pod)
    {
        var record = pod.Record;
        var created = pod.CreatedAt;
        var started = pod.StartedAt;
        var finished = pod.GarbageMarkedAt;
        var result = new ApiPod
        {
            Name = pod.Uuid.Value,
            State = pod.State.Describe(),
            CreatedAt = created?.ToUnixTimeSeconds(),
            StartedAt = started?.ToUnixTimeSeconds(),
        };
        if (record is null)
        {
            return result;
        }

        return result with
        {
            AppNames = [record.AppName],
            Apps =
            [
                new ApiApp
                {
                    Name = record.AppName,
                    State = pod.State switch
                    {
                        PodState.Embryo or PodState.Preparing or PodState.AbortedPrepare => "unknown",
                        PodState.Prepared => "created",
                        PodState.Running => "running",
                        _ => "exited",
                    },
                    CreatedAt = created is { } c ? Nanoseconds(c) : null,
                    StartedAt = started is { } s ? Nanoseconds(s) : null,
                    FinishedAt = finished is { } f ? Nanoseconds(f) : null,
                    ImageId = record.ManifestDigest,
                    Mounts = record.Mounts.Count == 0
                        ? null
                        : record.Mounts.Select(m => new ApiMount
                        {
                            Name = m.Volume,
                            ContainerPath = m.Target,
                            HostPath = m.SourceInPod ? Path.Combine(pod.Path, m.Source) : m.Source,
                            ReadOnly = m.ReadOnly,
                        }).ToList(),
                },
            ],
        };
    }

    public static string Json<T>(T value, bool pretty, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info)
    {
        var options = new JsonSerializerOptions(info.Options)
        {
            WriteIndented = pretty,
            IndentCharacter = '\t',
            IndentSize = 1,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        return JsonSerializer.Serialize(value, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)options.GetTypeInfo(typeof(T)));
    }

    /// <summary>`list` as rkt printed it: one row per app, tab-aligned like Go's tabwriter(0, 8, 1, '\t').</summary>
    public static string ListTable(IEnumerable<Pod> pods, bool full, bool noLegend, DateTimeOffset now)
    {
        var rows = new List<string[]>();
        if (!noLegend)
        {
            rows.Add(full
                ? ["UUID", "APP", "IMAGE NAME", "IMAGE ID", "STATE", "CREATED", "STARTED", "NETWORKS"]
                : ["UUID", "APP", "IMAGE NAME", "STATE", "CREATED", "STARTED", "NETWORKS"]);
        }

        foreach (var pod in pods)
        {
            var record = pod.Record;
            var created = pod.CreatedAt is { } c ? (full ? GoTime.Format(c) : GoTime.Humanize(c, now)) : string.Empty;
            var started = pod.StartedAt is { } s ? (full ? GoTime.Format(s) : GoTime.Humanize(s, now)) : string.Empty;
            var uuid = full ? pod.Uuid.Value : pod.Uuid.Short;
            var app = record?.AppName ?? "-";
            var image = record?.ImageName ?? "-";
            var imageId = record is null ? "-" : record.ManifestDigest[..Math.Min(19, record.ManifestDigest.Length)];
            rows.Add(full
                ? [uuid, app, image, imageId, pod.State.Describe(), created, started, string.Empty]
                : [uuid, app, image, pod.State.Describe(), created, started, string.Empty]);
        }

        return TabTable(rows);
    }

    /// <summary>Go's tabwriter with tab padding: every column but the last padded with tabs to a multiple of 8 past its widest cell.</summary>
    public static string TabTable(IReadOnlyList<string[]> rows)
    {
        var builder = new StringBuilder();
        if (rows.Count == 0)
        {
            return string.Empty;
        }

        var columns = rows.Max(r => r.Length);
        var widths = new int[columns];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length - 1; i++)
            {
                widths[i] = Math.Max(widths[i], new StringInfo(row[i]).LengthInTextElements);
            }
        }

        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length - 1; i++)
            {
                var cell = (widths[i] + 1 + 7) / 8 * 8;
                var text = new StringInfo(row[i]).LengthInTextElements;
                builder.Append(row[i]).Append('\t', (cell - text + 7) / 8);
            }

            builder.Append(row[^1]).Append('\n');
        }

        return builder.ToString();
    }

    private static long Nanoseconds(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
}

/// <summary>Go's time formats as rkt used them.</summary>
public static class GoTime
{
    /// <summary>Go's "2006-01-02 15:04:05.999 -0700 MST" in local time; Go's zero time when unknown.</summary>
    public static string Format(DateTimeOffset? time)
    {
        if (time is null)
        {
            return "0001-01-01 00:00:00 +0000 UTC";
        }

        var zone = TimeZoneInfo.Local;
        var local = TimeZoneInfo.ConvertTime(time.Value, zone);
        var fraction = (local.Ticks % TimeSpan.TicksPerSecond) / TimeSpan.TicksPerMillisecond;
        var seconds = fraction == 0 ? string.Empty : "." + fraction.ToString("000", CultureInfo.InvariantCulture).TrimEnd('0');
        var offset = local.Offset;
        var sign = offset < TimeSpan.Zero ? '-' : '+';
        var abs = offset.Duration();
        var numeric = $"{sign}{abs.Hours:00}{abs.Minutes:00}";
        return $"{local.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)}{seconds} {numeric} {Abbreviation(zone, local, numeric)}";
    }

    /// <summary>go-humanize's Time: "now", "1 second ago", "5 minutes ago", "2 days ago", ...</summary>
    public static string Humanize(DateTimeOffset then, DateTimeOffset now)
    {
        var label = then <= now ? "ago" : "from now";
        var diff = (now - then).Duration();
        var day = TimeSpan.FromDays(1);
        var month = 30 * day;
        var year = 12 * month;
        static string N(double value) => ((long)value).ToString(CultureInfo.InvariantCulture);
        return diff switch
        {
            _ when diff < TimeSpan.FromSeconds(1) => "now",
            _ when diff < TimeSpan.FromSeconds(2) => $"1 second {label}",
            _ when diff < TimeSpan.FromMinutes(1) => $"{N(diff.TotalSeconds)} seconds {label}",
            _ when diff < TimeSpan.FromMinutes(2) => $"1 minute {label}",
            _ when diff < TimeSpan.FromHours(1) => $"{N(diff.TotalMinutes)} minutes {label}",
            _ when diff < TimeSpan.FromHours(2) => $"1 hour {label}",
            _ when diff < day => $"{N(diff.TotalHours)} hours {label}",
            _ when diff < 2 * day => $"1 day {label}",
            _ when diff < 7 * day => $"{N(diff / day)} days {label}",
            _ when diff < 14 * day => $"1 week {label}",
            _ when diff < month => $"{N(diff / (7 * day))} weeks {label}",
            _ when diff < 2 * month => $"1 month {label}",
            _ when diff < year => $"{N(diff / month)} months {label}",
            _ when diff < 18 * month => $"1 year {label}",
            _ when diff < 2 * year => $"2 years {label}",
            _ when diff < 37 * year => $"{N(diff / year)} years {label}",
            _ => $"a long while {label}",
        };
    }

    private static string Abbreviation(TimeZoneInfo zone, DateTimeOffset local, string numeric)
    {
        if (local.Offset == TimeSpan.Zero && (zone.Id is "UTC" or "Etc/UTC" or "Universal" or "Zulu" || zone.BaseUtcOffset == TimeSpan.Zero && !zone.SupportsDaylightSavingTime))
        {
            return "UTC";
        }

        var name = zone.IsDaylightSavingTime(local) ? zone.DaylightName : zone.StandardName;
        return name.Length is > 0 and <= 6 && !name.Contains(' ', StringComparison.Ordinal) ? name : numeric[..3];
    }
}

/// <summary>rkt's api/v1 Pod, as `status --format=json` and `list --format=json` print it.</summary>
public sealed record ApiPod
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("state")]
    public required string State { get; init; }

    [JsonPropertyName("app_names")]
    public IReadOnlyList<string>? AppNames { get; init; }

    [JsonPropertyName("apps")]
    public IReadOnlyList<ApiApp>? Apps { get; init; }

    [JsonPropertyName("created_at")]
    public long? CreatedAt { get; init; }

    [JsonPropertyName("started_at")]
    public long? StartedAt { get; init; }
}

public sealed record ApiApp
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("state")]
    public required string State { get; init; }

    [JsonPropertyName("created_at")]
    public long? CreatedAt { get; init; }

    [JsonPropertyName("started_at")]
    public long? StartedAt { get; init; }

    [JsonPropertyName("finished_at")]
    public long? FinishedAt { get; init; }

    [JsonPropertyName("image_id")]
    public required string ImageId { get; init; }

    [JsonPropertyName("mounts")]
    public IReadOnlyList<ApiMount>? Mounts { get; init; }
}

public sealed record ApiMount
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("container_path")]
    public required string ContainerPath { get; init; }

    [JsonPropertyName("host_path")]
    public required string HostPath { get; init; }

    [JsonPropertyName("read_only")]
    public bool ReadOnly { get; init; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ApiPod))]
[JsonSerializable(typeof(List<ApiPod>))]
public sealed partial class ApiJsonContext : JsonSerializerContext;
