using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Kubefly.Images;
using Kubefly.Images.Store;
using Kubefly.Linux;
using Kubefly.Linux.Systemd;
using Kubefly.Oci;

namespace Kubefly.Pods.Updates;

/// <summary>How `kubefly auto-update` applies updates.</summary>
public sealed record UpdateOptions
{
    /// <summary>Roll a unit whose new digest fails its gate back to the digest it ran.</summary>
    public bool Rollback { get; init; } = true;

    /// <summary>Apply updates whose version label changes the major or minor version.</summary>
    public bool AllowMinor { get; init; }

    /// <summary>How long a restarted unit's main process must stay up (<see cref="HealthRequirement.Settle"/>).</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to wait for systemd's restart job (its own TimeoutStartSec ends it sooner).</summary>
    public TimeSpan JobTimeout { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>Fetches a verified image by digest (named nothing: naming it is the switch), returning it and the bytes that crossed the wire.</summary>
public delegate Task<(ImageRecord Record, long BytesFetched)> Prefetch(ImageReference tag, Digest digest, CancellationToken cancellationToken);

/// <summary>
/// The second half of an update: for each pending unit, fetch the new digest ahead of time (the restart
/// window is then only a warm start), write the journal, keep the old digest (a store hold, so gc never
/// takes it), move the tag, restart the unit through systemd and hold it to the health gate. A unit that
/// fails is rolled back the same way and its dependents started again; the digest that failed is not
/// tried again until the tag moves. Every step is journaled first, so a run killed at any point is
/// finished or reverted by the next one (<see cref="RecoverAsync"/>). See docs/adr/0013-applying-updates.md.
/// </summary>
public sealed class UnitUpdater(ImageStore images, PodStore pods, UpdateStateStore state, IServiceManager manager, HttpClient http, Prefetch prefetch, UpdateOptions options, Action<string> log)
{
    /// <summary>The store hold that keeps a unit's previous image (what it rolls back to).</summary>
    public static string HolderOf(string unit) => "auto-update@" + unit;

    /// <summary>Finishes or reverts updates a killed run left in its journal.</summary>
    public async Task<IReadOnlyList<UpdateCandidate>> RecoverAsync(CancellationToken cancellationToken)
    {
        var outcomes = new List<UpdateCandidate>();
        foreach (var (unit, unitState) in state.State.Units.Where(u => u.Value.Journal is not null).ToList())
        {
            var journal = unitState.Journal!;
            var running = RunningRecordOf(unit);
            var candidate = new UpdateCandidate { Pod = running?.Uuid ?? "-", Unit = unit, Image = journal.Name, RunningDigest = running?.ManifestDigest ?? "-", TagDigest = journal.To, Action = UpdateAction.Failed };
            log($"{unit}: an earlier auto-update stopped while {PhaseText(journal.Phase)} ({Short(journal.From)} to {Short(journal.To)}): finishing it");
            try
            {
                if (journal.Phase == UpdatePhase.RollingBack)
                {
                    outcomes.Add(await RollBackAsync(candidate, journal, running, journal.Reason ?? "an earlier run failed it", cancellationToken).ConfigureAwait(false));
                }
                else if (running?.ManifestDigest == journal.To)
                {
                    // The restart happened: judge what runs now (the job's result is gone with the run that waited for it).
                    var requirement = HealthRequirement.From(running, options.Settle);
                    var reason = await HealthGate.CheckAsync(manager, unit, "done", requirement, http, Stopwatch.StartNew(), new StrongBox<TimeSpan>(), cancellationToken).ConfigureAwait(false);
                    outcomes.Add(reason is null ? await SucceededAsync(candidate, journal, null).ConfigureAwait(false) : await FailAsync(candidate, journal, running, reason, cancellationToken).ConfigureAwait(false));
                }
                else
                {
                    // Not restarted yet (or it already runs the old digest): put the tag back; planning starts over.
                    NameImage(journal.From, journal.Name);
                    state.Update(unit, s => s with { Journal = null });
                    log($"{unit}: reverted the tag {journal.Name} to {Short(journal.From)}; the update is planned again");
                }
            }
            catch (Exception e) when (e is KubeflyException or ServiceManagerException or IOException)
            {
                outcomes.Add(candidate with { Reason = e.Message });
            }
        }

        return outcomes;
    }

    /// <summary>Applies one planned update; returns the candidate with what happened (updated, rolled back, skipped or failed).</summary>
    public async Task<UpdateCandidate> ApplyAsync(UpdateCandidate candidate, PodRecord record, CancellationToken cancellationToken)
    {
        var unit = candidate.Unit!;
        var tagDigest = candidate.TagDigest!;
        if (state.Unit(unit).Failed is { } failed
            && (failed.Digest == tagDigest || (Digest.TryParse(failed.Digest, out var failedDigest) && images.FindRecord(failedDigest)?.IndexDigest?.ToString() == tagDigest)))
        {
            return candidate with { Action = UpdateAction.Skipped, Reason = $"{Short(tagDigest)} failed its health gate at {failed.At:yyyy-MM-dd HH:mm:ss}Z ({failed.Reason}); it is not tried again until the tag moves" };
        }

        try
        {
            var requirement = HealthRequirement.From(record, options.Settle);
            var reference = ImageReference.Parse(record.Image);
            var (newImage, fetched) = await prefetch(reference, Digest.Parse(tagDigest), cancellationToken).ConfigureAwait(false);
            state.AddPullBytes(fetched);

            // A tag naming an index runs one of its manifests: that is the digest pods record.
            var to = newImage.ManifestDigest.ToString();
            var oldImage = images.FindRecord(Digest.Parse(record.ManifestDigest))
                ?? throw new KubeflyException($"unit {unit}: the image it runs ({record.ManifestDigest}) is not in the store, so there would be nothing to roll back to");
            if (!options.AllowMinor && VersionSkew.Refusal(Labels(oldImage), Labels(newImage)) is { } skew)
            {
                return candidate with { Action = UpdateAction.Refused, Reason = skew + " (allow it with --allow-minor)" };
            }

            var dependents = await ActiveDependentsAsync(unit, cancellationToken).ConfigureAwait(false);
            var name = ImageStore.CanonicalName(record.Image) ?? throw new KubeflyException($"unit {unit}: \"{UntrustedText.Printable(record.Image)}\" is no image reference");
            var journal = new UpdateJournal { Phase = UpdatePhase.Switching, Name = name, From = record.ManifestDigest, To = to, Dependents = dependents };
            state.Update(unit, s => s with { Journal = journal });
            images.Hold(HolderOf(unit), oldImage.ManifestDigest);
            NameImage(to, journal.Name);
            Failpoint.Hit("after-switch");

            journal = journal with { Phase = UpdatePhase.Restarting };
            state.Update(unit, s => s with { Journal = journal });
            log($"{unit}: restarting on {Short(to)} (was {Short(record.ManifestDigest)})");
            var clock = Stopwatch.StartNew();
            var result = await manager.RestartAsync(unit, options.JobTimeout, cancellationToken).ConfigureAwait(false);
            Failpoint.Hit("after-restart");
            var healthyAt = new StrongBox<TimeSpan>();
            var reason = await HealthGate.CheckAsync(manager, unit, result, requirement, http, clock, healthyAt, cancellationToken).ConfigureAwait(false)
                ?? CheckRuns(unit, to);
            if (reason is null)
            {
                return await SucceededAsync(candidate, journal, healthyAt.Value).ConfigureAwait(false);
            }

            return await FailAsync(candidate, journal, RunningRecordOf(unit) ?? record, reason, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is KubeflyException or ServiceManagerException or IOException)
        {
            return candidate with { Action = UpdateAction.Failed, Reason = e.Message };
        }
    }

    private async Task<UpdateCandidate> SucceededAsync(UpdateCandidate candidate, UpdateJournal journal, TimeSpan? healthyAfter)
    {
        var unit = candidate.Unit!;
        state.Update(unit, s => s with { Journal = null, Failed = null, LastSuccess = DateTimeOffset.UtcNow });
        await StartDependentsAsync(unit, journal.Dependents).ConfigureAwait(false);
        log($"{unit}: now runs {Short(journal.To)} and passed its health gate; {Short(journal.From)} is kept to roll back to");
        return candidate with { Action = UpdateAction.Updated, Pod = RunningRecordOf(unit)?.Uuid ?? candidate.Pod, RunningDigest = journal.To, PreviousDigest = journal.From, HealthyAfter = healthyAfter };
    }

    private async Task<UpdateCandidate> FailAsync(UpdateCandidate candidate, UpdateJournal journal, PodRecord record, string reason, CancellationToken cancellationToken)
    {
        var unit = candidate.Unit!;
        log($"{unit}: {Short(journal.To)} failed its health gate: {reason}");
        state.Update(unit, s => s with { Failed = new FailedDigest(journal.To, reason, DateTimeOffset.UtcNow), Failures = s.Failures + 1 });
        if (!options.Rollback)
        {
            state.Update(unit, s => s with { Journal = null });
            return candidate with { Action = UpdateAction.Failed, Reason = $"{reason}; left on {Short(journal.To)} (--rollback=false)" };
        }

        return await RollBackAsync(candidate, journal, record, reason, cancellationToken).ConfigureAwait(false);
    }

    private async Task<UpdateCandidate> RollBackAsync(UpdateCandidate candidate, UpdateJournal journal, PodRecord? record, string reason, CancellationToken cancellationToken)
    {
        var unit = candidate.Unit!;
        var rolling = journal with { Phase = UpdatePhase.RollingBack, Reason = reason };
        state.Update(unit, s => s with { Journal = rolling });
        NameImage(journal.From, journal.Name);
        Failpoint.Hit("after-revert");
        log($"{unit}: rolling back to {Short(journal.From)}");
        var result = await manager.RestartAsync(unit, options.JobTimeout, cancellationToken).ConfigureAwait(false);
        var requirement = record is null ? new HealthRequirement(null, HealthRequirement.DefaultTimeout, options.Settle) : HealthRequirement.From(record, options.Settle);
        var rollbackReason = await HealthGate.CheckAsync(manager, unit, result, requirement, http, Stopwatch.StartNew(), new StrongBox<TimeSpan>(), cancellationToken).ConfigureAwait(false)
            ?? CheckRuns(unit, journal.From);
        state.Update(unit, s => s with { Journal = null, Rollbacks = s.Rollbacks + 1 });
        var started = await StartDependentsAsync(unit, rolling.Dependents).ConfigureAwait(false);
        if (rollbackReason is not null)
        {
            log($"{unit}: the rollback to {Short(journal.From)} failed too: {rollbackReason}");
            return candidate with { Action = UpdateAction.Failed, Reason = $"{reason}; the rollback to {Short(journal.From)} failed too: {rollbackReason}" };
        }

        log($"{unit}: rolled back to {Short(journal.From)}, which passed its health gate{(started.Count > 0 ? $"; started again: {string.Join(", ", started)}" : string.Empty)}");
        return candidate with { Action = UpdateAction.RolledBack, Pod = RunningRecordOf(unit)?.Uuid ?? candidate.Pod, RunningDigest = journal.From, Reason = reason };
    }

    /// <summary>Dependents (Requires=, BindsTo=, PartOf=) active now: a restart that fails stops them, and systemd never starts them again by itself.</summary>
    private async Task<IReadOnlyList<string>> ActiveDependentsAsync(string unit, CancellationToken cancellationToken)
    {
        var active = new List<string>();
        foreach (var dependent in await manager.GetDependentsAsync(unit, cancellationToken).ConfigureAwait(false))
        {
            if ((await manager.GetStatusAsync(dependent, cancellationToken).ConfigureAwait(false)).ActiveState is "active" or "activating" or "reloading")
            {
                active.Add(dependent);
            }
        }

        return active;
    }

    private async Task<IReadOnlyList<string>> StartDependentsAsync(string unit, IReadOnlyList<string> dependents)
    {
        var started = new List<string>();
        foreach (var dependent in dependents)
        {
            try
            {
                if ((await manager.GetStatusAsync(dependent, CancellationToken.None).ConfigureAwait(false)).ActiveState is "active" or "activating" or "reloading")
                {
                    continue;
                }

                var result = await manager.StartAsync(dependent, options.JobTimeout, CancellationToken.None).ConfigureAwait(false);
                log(result == "done" ? $"{unit}: started {dependent} again (it depends on {unit})" : $"{unit}: starting {dependent} again ended \"{result}\"");
                started.Add(dependent);
            }
            catch (ServiceManagerException e)
            {
                log($"{unit}: could not start {dependent} again: {e.Message}");
            }
        }

        return started;
    }

    /// <summary>The gate passed; the pod the unit runs now must also be on the expected digest (a unit that pins another image is no update).</summary>
    private string? CheckRuns(string unit, string digest)
    {
        var running = RunningRecordOf(unit);
        return running?.ManifestDigest == digest ? null
            : running is null ? "no running pod of the unit was found after the restart"
            : $"the unit runs {Short(running.ManifestDigest)} after the restart, not {Short(digest)}";
    }

    private PodRecord? RunningRecordOf(string unit)
    {
        pods.ForgetProcesses();
        PodRecord? newest = null;
        foreach (var pod in pods.Walk())
        {
            using (pod)
            {
                if (pod.State == PodState.Running && pod.Record is { } record && record.Unit == unit && (newest is null || record.CreatedAt > newest.CreatedAt))
                {
                    newest = record;
                }
            }
        }

        return newest;
    }

    private void NameImage(string digest, string name)
    {
        using var storeLock = images.LockStore(exclusive: false);
        var record = images.FindRecord(Digest.Parse(digest)) ?? throw new KubeflyException($"image {digest} is no longer in the store; cannot point {name} at it");
        images.Name(record, name);
    }

    private IReadOnlyDictionary<string, string>? Labels(ImageRecord record) =>
        ManifestResolver.ParseConfig(images.ReadStoredBlob(record.ConfigDigest), $"image {record.ManifestDigest}").Config?.Labels;

    private static string PhaseText(UpdatePhase phase) => phase switch
    {
        UpdatePhase.Switching => "moving the tag",
        UpdatePhase.Restarting => "restarting the unit",
        _ => "rolling back",
    };

    internal static string Short(string digest) => digest.Length > "sha256:".Length + 12 ? digest[..("sha256:".Length + 12)] : digest;
}

/// <summary>
/// Named points where a test kills the updater (KUBEFLY_TEST_KILL_AT=NAME sends it SIGKILL there), so the
/// end-to-end tests can prove a run killed at each step is finished or reverted by the next.
/// </summary>
internal static class Failpoint
{
    public static void Hit(string name)
    {
        if (Environment.GetEnvironmentVariable("KUBEFLY_TEST_KILL_AT") == name)
        {
            Interop.TryKill(Environment.ProcessId, 9);
        }
    }
}

/// <summary>The Kubernetes version skew rule, by the images' org.opencontainers.image.version labels.</summary>
public static class VersionSkew
{
    public const string Label = "org.opencontainers.image.version";

    /// <summary>Why moving from one image to the other changes the major or minor version, or null (same, or either unlabelled).</summary>
    public static string? Refusal(IReadOnlyDictionary<string, string>? from, IReadOnlyDictionary<string, string>? to)
    {
        if (from?.GetValueOrDefault(Label) is not { } oldVersion || to?.GetValueOrDefault(Label) is not { } newVersion
            || MajorMinor(oldVersion) is not { } a || MajorMinor(newVersion) is not { } b || a == b)
        {
            return null;
        }

        return $"the update changes the minor version ({UntrustedText.Printable(oldVersion)} to {UntrustedText.Printable(newVersion)})";
    }

    /// <summary>"v1.28.3" and "1.28.3-gke.1" give (1, 28); anything else null.</summary>
    public static (int Major, int Minor)? MajorMinor(string version)
    {
        var text = version.StartsWith('v') ? version[1..] : version;
        var parts = text.Split('.', 3);
        return parts.Length >= 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            && int.TryParse(new string(parts[1].TakeWhile(char.IsAsciiDigit).ToArray()), NumberStyles.None, CultureInfo.InvariantCulture, out var minor)
            ? (major, minor) : null;
    }
}
