using System.CommandLine;
using System.Text.Json;
using Kubefly.Images;
using Kubefly.Oci;
using Kubefly.Pods;
using Kubefly.Pods.Updates;
using Kubefly.Trust;

namespace Kubefly.Cli.Commands;

/// <summary>
/// `kubefly auto-update --dry-run`: for every running pod whose unit opted in (KUBEFLY_AUTO_UPDATE=registry),
/// the digest it runs, the digest its tag names now, and pending, current, refused (by the trust policy)
/// or skipped (why). Applying an
/// update (restart through systemd's D-Bus API, health gate, rollback) is not in this build: without
/// --dry-run the command says so and changes nothing.
/// </summary>
internal static class AutoUpdateCommand
{
    public static Command Create(GlobalOptionSet globals)
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "report, per unit, the digest running, the digest its tag names and pending/current/skipped (why); change nothing" };
        var format = new Option<string?>("--format") { Description = "json or json-pretty (default: a table)" };
        var command = new Command("auto-update", "update the images of units that opted in (KUBEFLY_AUTO_UPDATE=registry) from their registries") { dryRun, format };
        command.SetAction(result =>
        {
            var json = result.GetValue(format);
            if (json is not (null or "json" or "json-pretty"))
            {
                throw new UsageException($"invalid --format \"{json}\": expected json or json-pretty");
            }

            if (!result.GetValue(dryRun))
            {
                throw new UsageException("this build of kubefly reports updates but does not apply them yet: run `kubefly auto-update --dry-run`, and restart a unit to move it to its tag's new digest");
            }

            var options = globals.Read(result);
            var services = new ImageServices(options, SilentProgress.Instance);
            var store = new PodStore(options.Dir);
            var pods = store.Walk().ToList();
            try
            {
                var running = pods.Where(p => p.State == PodState.Running && p.Record is not null).Select(p => (p.Uuid.Value, p.Record!));
                var plan = UpdatePlanner.PlanAsync(running, (reference, running, cancellationToken) => ResolveTagAsync(services, reference, running, cancellationToken), CancellationToken.None).GetAwaiter().GetResult();
                Print(plan, json);
                return plan.Any(c => c.Action is UpdateAction.Failed or UpdateAction.Refused) ? 1 : ExitCodes.Success;
            }
            finally
            {
                pods.ForEach(p => p.Dispose());
            }
        });
        return command;
    }

    /// <summary>
    /// The digest the tag names (an index that lists the running manifest counts as naming it), and for a
    /// new one whether the trust policy accepts it, as a fetch would verify it (signatures included).
    /// </summary>
    private static async Task<TagState> ResolveTagAsync(ImageServices services, ImageReference reference, string running, CancellationToken cancellationToken)
    {
        using var source = services.OpenRegistrySource(reference);
        var manifest = await source.GetManifestAsync(null, cancellationToken).ConfigureAwait(false);
        if (manifest.Digest.ToString() == running
            || (Digest.TryParse(running, out var runningDigest) && services.Store.FindRecord(runningDigest) is { IndexDigest: { } index } && index == manifest.Digest))
        {
            return new TagState(Digest.Parse(running));
        }

        try
        {
            services.Verifier.CheckReference(reference);
            await services.Verifier.VerifyAsync(reference, manifest.Digest, source, cancellationToken).ConfigureAwait(false);
            return new TagState(manifest.Digest);
        }
        catch (TrustException e)
        {
            return new TagState(manifest.Digest, e.Message);
        }
    }

    private static void Print(IReadOnlyList<UpdateCandidate> plan, string? json)
    {
        if (json is not null)
        {
            var context = json == "json-pretty" ? new CliJsonContext(new JsonSerializerOptions { WriteIndented = true }) : CliJsonContext.Default;
            Console.Out.WriteLine(JsonSerializer.Serialize(plan.Select(UpdateReport.From).ToList(), context.ListUpdateReport));
            return;
        }

        var table = new TextTable(["UNIT", "IMAGE", "RUNNING", "TAG", "UPDATE"]);
        foreach (var row in plan.Select(c => new[]
        {
            c.Unit ?? "-",
            c.Image,
            Short(c.RunningDigest),
            c.TagDigest is { } tag ? Short(tag) : "-",
            c.Action switch
            {
                UpdateAction.Skipped => $"skipped ({c.Reason})",
                UpdateAction.Failed => $"failed ({c.Reason})",
                UpdateAction.Refused => $"refused ({c.Reason})",
                _ => c.ActionName,
            },
        }))
        {
            table.Add(row);
        }

        table.Write(Console.Out, legend: true);
    }

    private static string Short(string digest) => digest.Length > "sha256:".Length + 12 ? digest[..("sha256:".Length + 12)] : digest;
}
