using System.CommandLine;
using Kubefly.Pods;

namespace Kubefly.Cli.Commands;

internal static class ListCommand
{
    public static Command Create(GlobalOptionSet globals)
    {
        var full = new Option<bool>("--full") { Description = "use long output format" };
        var noLegend = new Option<bool>("--no-legend") { Description = "suppress a legend with the list" };
        var format = OutputFormat.CreateOption();
        var command = new Command("list", "List pods") { full, noLegend, format };
        command.SetAction(result =>
        {
            var options = globals.Read(result);
            var store = new PodStore(options.Dir);
            var kind = OutputFormat.Parse(result.GetValue(format));

            // rkt lists the pods it can address (not embryos, not never-run garbage).
            var pods = store.Walk().ToList();
            try
            {
                var shown = pods.Where(p => p.State is not (PodState.Garbage or PodState.Deleting)).ToList();
                Console.Out.Write(kind == OutputFormat.Kind.Table
                    ? PodReports.ListTable(shown, result.GetValue(full), result.GetValue(noLegend), DateTimeOffset.UtcNow)
                    : PodReports.Json(shown.ConvertAll(PodReports.ToApi), kind == OutputFormat.Kind.JsonPretty, ApiJsonContext.Default.ListApiPod) + "\n");
            }
            finally
            {
                pods.ForEach(p => p.Dispose());
            }

            return 0;
        });
        return command;
    }
}

/// <summary>rkt's --format for list and status: key/value or table by default, json, json-pretty.</summary>
internal static class OutputFormat
{
    public enum Kind
    {
        Table,
        Json,
        JsonPretty,
    }

    public static Option<string?> CreateOption() => new("--format") { Description = "output format: json or json-pretty (default: text)" };

    public static Kind Parse(string? value) => value switch
    {
        null or "" => Kind.Table,
        "json" => Kind.Json,
        "json-pretty" => Kind.JsonPretty,
        _ => throw new UsageException($"invalid --format \"{value}\": allowed json, json-pretty"),
    };
}
