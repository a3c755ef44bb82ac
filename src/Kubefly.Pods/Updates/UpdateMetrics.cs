using System.Globalization;
using System.Text;

namespace Kubefly.Pods.Updates;

/// <summary>
/// kubefly.prom for node_exporter's textfile collector: what each opted-in unit runs, and the updater's
/// counters (kept in its state file, so they count across runs). Written to a temporary file and renamed,
/// so the collector never reads half a file.
/// </summary>
public static class UpdateMetrics
{
    public const string FileName = "kubefly.prom";

    public static string Render(IReadOnlyList<UpdateCandidate> units, UpdateStateFile state)
    {
        var text = new StringBuilder();
        Header(text, "kubefly_image_info", "gauge", "The image digest each unit that opted in to auto-update runs.");
        foreach (var unit in units.Where(u => u.Unit is not null).DistinctBy(u => u.Unit))
        {
            text.Append(CultureInfo.InvariantCulture, $"kubefly_image_info{{unit=\"{Escape(unit.Unit!)}\",image=\"{Escape(unit.Image)}\",digest=\"{Escape(unit.RunningDigest)}\"}} 1\n");
        }

        Header(text, "kubefly_update_last_success_timestamp_seconds", "gauge", "When the unit last passed its health gate on a new digest.");
        foreach (var (unit, unitState) in Sorted(state))
        {
            if (unitState.LastSuccess is { } at)
            {
                text.Append(CultureInfo.InvariantCulture, $"kubefly_update_last_success_timestamp_seconds{{unit=\"{Escape(unit)}\"}} {at.ToUnixTimeSeconds()}\n");
            }
        }

        Header(text, "kubefly_update_failures_total", "counter", "New digests that failed their health gate.");
        foreach (var (unit, unitState) in Sorted(state))
        {
            text.Append(CultureInfo.InvariantCulture, $"kubefly_update_failures_total{{unit=\"{Escape(unit)}\"}} {unitState.Failures}\n");
        }

        Header(text, "kubefly_rollbacks_total", "counter", "Rollbacks to the digest a unit ran before.");
        foreach (var (unit, unitState) in Sorted(state))
        {
            text.Append(CultureInfo.InvariantCulture, $"kubefly_rollbacks_total{{unit=\"{Escape(unit)}\"}} {unitState.Rollbacks}\n");
        }

        Header(text, "kubefly_pull_bytes_total", "counter", "Bytes auto-update fetched from registries.");
        text.Append(CultureInfo.InvariantCulture, $"kubefly_pull_bytes_total {state.PullBytes}\n");
        return text.ToString();
    }

    public static void Write(string directory, string text)
    {
        var path = Path.Combine(directory, FileName);
        var temporary = Path.Combine(directory, $".{FileName}.{Environment.ProcessId}.tmp");
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    private static IEnumerable<KeyValuePair<string, UnitUpdateState>> Sorted(UpdateStateFile state) => state.Units.OrderBy(u => u.Key, StringComparer.Ordinal);

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");

    /// <summary>The exposition format's label escaping: backslash, double quote and newline.</summary>
    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
