using System.CommandLine;
using System.Text.Json;
using Kubefly.Images;
using Kubefly.Images.Store;
using Kubefly.Linux.Systemd;
using Kubefly.Oci;
using Kubefly.Pods;
using Kubefly.Pods.Updates;
using Kubefly.Trust;

namespace Kubefly.Cli.Commands;

/// <summary>
/// `kubefly auto-update`: for every running pod whose unit opted in (KUBEFLY_AUTO_UPDATE=registry), the
/// digest it runs against the digest its tag names now; with --dry-run only that report, otherwise each
/// pending update is fetched, applied by restarting the unit through systemd, held to the health gate and
/// rolled back when it fails (<see cref="UnitUpdater"/>, docs/adr/0013-applying-updates.md).
/// </summary>
internal static class AutoUpdateCommand
{
    public static Command Create(GlobalOptionSet globals)
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "report, per unit, the digest running, the digest its tag names and pending/current/skipped (why); change nothing" };
        var format = new Option<string?>("--format") { Description = "json or json-pretty (default: a table)" };
        var rollback = new Option<bool>("--rollback") { Description = "roll a unit whose new image fails its health gate back to the image it ran", DefaultValueFactory = _ => true, Arity = ArgumentArity.ZeroOrOne };
        var allowMinor = new Option<bool>("--allow-minor") { Description = "apply updates whose org.opencontainers.image.version label changes the major or minor version (refused otherwise)" };
        var maxJitter = new Option<string>("--max-jitter") { Description = "wait up to this long first (a fixed delay per node, from /etc/machine-id), so a fleet does not restart its agents in the same second", DefaultValueFactory = _ => "0s" };
        var metrics = new Option<string?>("--metrics") { Description = "write kubefly.prom into this directory for node_exporter's textfile collector" };
        var settle = new Option<string>("--settle") { Description = "how long a restarted unit's main process must stay the same process to pass the health gate", DefaultValueFactory = _ => "10s" };
        var command = new Command("auto-update", "update the images of units that opted in (KUBEFLY_AUTO_UPDATE=registry) from their registries, with health gates and rollback")
        {
            dryRun, format, rollback, allowMinor, maxJitter, metrics, settle,
        };
        command.SetAction(result =>
        {
            var json = result.GetValue(format);
            if (json is not (null or "json" or "json-pretty"))
            {
                throw new UsageException($"invalid --format \"{json}\": expected json or json-pretty");
            }

            var metricsDirectory = result.GetValue(metrics) is { } directory ? Path.GetFullPath(directory) : null;
            if (metricsDirectory is not null && !Directory.Exists(metricsDirectory))
            {
                throw new UsageException($"--metrics: {metricsDirectory} is not a directory");
            }

            var updateOptions = new UpdateOptions
            {
                Rollback = result.GetValue(rollback),
                AllowMinor = result.GetValue(allowMinor),
                Settle = Duration("--settle", result.GetValue(settle)!),
            };
            var jitter = NodeJitter(Duration("--max-jitter", result.GetValue(maxJitter)!));
            var options = globals.Read(result);
            var plan = result.GetValue(dryRun)
                ? Plan(options, CancellationToken.None).GetAwaiter().GetResult()
                : ApplyAsync(options, updateOptions, jitter, metricsDirectory, CancellationToken.None).GetAwaiter().GetResult();
            Print(plan, json);
            return plan.Any(c => c.Action is UpdateAction.Failed or UpdateAction.Refused or UpdateAction.RolledBack) ? 1 : ExitCodes.Success;
        });
        return command;
    }

    private static async Task<IReadOnlyList<UpdateCandidate>> Plan(GlobalOptions options, CancellationToken cancellationToken)
    {
        var services = new ImageServices(options, SilentProgress.Instance);
        var (plan, _) = await PlanAsync(services, new PodStore(options.Dir), cancellationToken).ConfigureAwait(false);
        return plan;
    }

    /// <summary>The plan, and the records of the pods it names (what an update needs to know of each unit).</summary>
    private static async Task<(IReadOnlyList<UpdateCandidate> Plan, Dictionary<string, PodRecord> Records)> PlanAsync(ImageServices services, PodStore store, CancellationToken cancellationToken)
    {
        var pods = store.Walk().ToList();
        try
        {
            var running = pods.Where(p => p.State == PodState.Running && p.Record is not null).Select(p => (p.Uuid.Value, p.Record!)).ToList();
            var plan = await UpdatePlanner.PlanAsync(running, (reference, digest, token) => ResolveTagAsync(services, reference, digest, token), cancellationToken).ConfigureAwait(false);
            return (plan, running.ToDictionary(r => r.Value, r => r.Item2, StringComparer.Ordinal));
        }
        finally
        {
            pods.ForEach(p => p.Dispose());
        }
    }

    private static async Task<IReadOnlyList<UpdateCandidate>> ApplyAsync(GlobalOptions options, UpdateOptions updateOptions, TimeSpan jitter, string? metricsDirectory, CancellationToken cancellationToken)
    {
        using var state = UpdateStateStore.Open(options.Dir);
        if (jitter > TimeSpan.Zero)
        {
            Log($"waiting {GoDuration.Format(jitter)} (this node's share of --max-jitter)");
            await Task.Delay(jitter, cancellationToken).ConfigureAwait(false);
        }

        var services = new ImageServices(options, SilentProgress.Instance);
        var podStore = new PodStore(options.Dir);
        await using var manager = await SystemdBus.ConnectAsync(cancellationToken).ConfigureAwait(false);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var updater = new UnitUpdater(services.Store, podStore, state, manager, http, (tag, digest, token) => PrefetchAsync(options, tag, digest, token), updateOptions, Log);

        var recovered = await updater.RecoverAsync(cancellationToken).ConfigureAwait(false);
        var (plan, records) = await PlanAsync(services, podStore, cancellationToken).ConfigureAwait(false);
        var outcomes = new List<UpdateCandidate>();
        foreach (var candidate in plan)
        {
            if (recovered.FirstOrDefault(r => r.Unit == candidate.Unit) is { } finished)
            {
                outcomes.Add(finished);
                continue;
            }

            outcomes.Add(candidate.Action == UpdateAction.Pending
                ? await updater.ApplyAsync(candidate, records[candidate.Pod], cancellationToken).ConfigureAwait(false)
                : candidate);
        }

        outcomes.AddRange(recovered.Where(r => outcomes.All(o => o.Unit != r.Unit)));
        if (metricsDirectory is not null)
        {
            UpdateMetrics.Write(metricsDirectory, UpdateMetrics.Render(outcomes, state.State));
        }

        return outcomes;
    }

    /// <summary>Fetches the tag's new digest, verified by the policy as the tag would be, without naming it yet.</summary>
    private static async Task<(ImageRecord Record, long BytesFetched)> PrefetchAsync(GlobalOptions options, ImageReference tag, Digest digest, CancellationToken cancellationToken)
    {
        var progress = new FetchedBytes();
        var services = new ImageServices(options, progress);
        var record = await services.Puller.PullAsync(tag.WithDigest(digest), tag, _ => [], cancellationToken).ConfigureAwait(false);
        return (record, progress.Total);
    }

    /// <summary>
    /// A delay fixed per node (from /etc/machine-id) below <paramref name="maxJitter"/>: every node waits
    /// its own share, the same on every run, so a fleet's restarts spread over the window.
    /// </summary>
    private static TimeSpan NodeJitter(TimeSpan maxJitter)
    {
        if (maxJitter <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        var machineId = File.Exists("/etc/machine-id") ? File.ReadAllText("/etc/machine-id").Trim() : Environment.MachineName;
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("kubefly auto-update " + machineId));
        var fraction = BitConverter.ToUInt64(hash, 0) / (double)ulong.MaxValue;
        return TimeSpan.FromMilliseconds(Math.Floor(maxJitter.TotalMilliseconds * fraction));
    }

    private static TimeSpan Duration(string flag, string text)
    {
        try
        {
            return GoDuration.Parse(text);
        }
        catch (InvalidValueException e)
        {
            throw new UsageException($"{flag}: {e.Message}");
        }
    }

    private static void Log(string message) => Console.Error.WriteLine($"auto-update: {message}");

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
            var context = CliJsonContext.For(json);
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
                UpdateAction.RolledBack => $"rolled-back ({c.Reason})",
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

/// <summary>Counts the layer bytes a pull moves (layers already in the store count nothing; a partial pull counts what it fetched).</summary>
internal sealed class FetchedBytes : IPullProgress
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Digest, long> _sizes = new();
    private long _total;

    public long Total => Interlocked.Read(ref _total);

    public void Message(string text)
    {
    }

    public void LayerStarted(Digest blob, long size) => _sizes[blob] = size;

    public void LayerAdvanced(Digest blob, long bytesSoFar)
    {
    }

    public void LayerFinished(Digest blob, bool alreadyPresent)
    {
        if (!alreadyPresent && _sizes.TryGetValue(blob, out var size))
        {
            Interlocked.Add(ref _total, size);
        }
    }

    public void LayerFetchedPartially(Digest blob, Kubefly.Images.Chunked.PartialPullReport report) => _sizes[blob] = report.WireBytes;
}
