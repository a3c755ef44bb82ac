using Kubefly.Oci;

namespace Kubefly.Pods.Updates;

/// <summary>What `kubefly auto-update` would do for one running pod that opted in.</summary>
public enum UpdateAction
{
    /// <summary>The tag names the digest the pod runs.</summary>
    Current,

    /// <summary>The tag names another digest, which an update would fetch and restart the unit on.</summary>
    Pending,

    /// <summary>Not updated, for the reason given (digest-pinned, not a registry image, not a service, ...).</summary>
    Skipped,

    /// <summary>The registry could not be asked (the others are still planned).</summary>
    Failed,

    /// <summary>The tag names another digest, which the trust policy (or the version skew rule) refuses: it is never applied.</summary>
    Refused,

    /// <summary>The unit was restarted on the tag's new digest and passed its health gate.</summary>
    Updated,

    /// <summary>The new digest failed its health gate; the unit runs the old one again, which passed.</summary>
    RolledBack,
}

/// <summary>What a tag names now; <see cref="Refusal"/> says why the trust policy refuses it, if it does.</summary>
public sealed record TagState(Digest Digest, string? Refusal = null);

public sealed record UpdateCandidate
{
    /// <summary>The action as the reports spell it.</summary>
    public string ActionName => Action switch
    {
        UpdateAction.Current => "current",
        UpdateAction.Pending => "pending",
        UpdateAction.Skipped => "skipped",
        UpdateAction.Refused => "refused",
        UpdateAction.Updated => "updated",
        UpdateAction.RolledBack => "rolled-back",
        _ => "failed",
    };

    public required string Pod { get; init; }

    /// <summary>The systemd unit the pod runs in, or null.</summary>
    public string? Unit { get; init; }

    /// <summary>The image reference as the unit wrote it.</summary>
    public required string Image { get; init; }

    public required string RunningDigest { get; init; }

    /// <summary>The digest the tag names in its registry now, when it was asked.</summary>
    public string? TagDigest { get; init; }

    public required UpdateAction Action { get; init; }

    /// <summary>Why the pod is skipped or failed; null otherwise.</summary>
    public string? Reason { get; init; }

    /// <summary>After an update: the digest the unit ran before (kept in the store to roll back to).</summary>
    public string? PreviousDigest { get; init; }

    /// <summary>After an update: from the restart's start to the new agent first seen healthy.</summary>
    public TimeSpan? HealthyAfter { get; init; }
}

/// <summary>
/// The first half of an update, which changes nothing: for every running pod whose unit opted in
/// (KUBEFLY_AUTO_UPDATE=registry), ask the registry what its tag names now. A digest-pinned pod is
/// reported as such, never an error for the others (podman's auto-update fails the whole run there);
/// a registry that cannot be reached fails that pod only; a new digest the trust policy refuses is
/// reported as refused (an update is verified before it is ever applied). The resolver is given the running digest, so
/// a tag that names a multi-platform index can be found to name what runs.
/// </summary>
public static class UpdatePlanner
{
    /// <summary>Plans the running pods given (UUID and record); those that did not opt in are left out.</summary>
    public static async Task<IReadOnlyList<UpdateCandidate>> PlanAsync(IEnumerable<(string Pod, PodRecord Record)> running, Func<ImageReference, string, CancellationToken, Task<TagState>> resolveTag, CancellationToken cancellationToken)
    {
        var candidates = new List<UpdateCandidate>();
        foreach (var (pod, record) in running)
        {
            if (record.AutoUpdate == "registry")
            {
                candidates.Add(await PlanOneAsync(pod, record, resolveTag, cancellationToken).ConfigureAwait(false));
            }
        }

        return candidates;
    }

    private static async Task<UpdateCandidate> PlanOneAsync(string pod, PodRecord record, Func<ImageReference, string, CancellationToken, Task<TagState>> resolveTag, CancellationToken cancellationToken)
    {
        var candidate = new UpdateCandidate { Pod = pod, Unit = record.Unit, Image = record.Image, RunningDigest = record.ManifestDigest, Action = UpdateAction.Skipped };
        if (!ImageReference.TryParse(record.Image, out var reference, out _) || reference.Transport != ImageTransport.Docker)
        {
            return candidate with { Reason = "not a registry image" };
        }

        if (reference.Digest is not null)
        {
            return candidate with { Reason = "pinned by digest" };
        }

        if (record.Unit is null)
        {
            return candidate with { Reason = "not started by a systemd service, so there is no unit to restart" };
        }

        try
        {
            var tag = await resolveTag(reference, record.ManifestDigest, cancellationToken).ConfigureAwait(false);
            var tagDigest = tag.Digest.ToString();
            return tagDigest == record.ManifestDigest ? candidate with { TagDigest = tagDigest, Action = UpdateAction.Current }
                : tag.Refusal is { } refusal ? candidate with { TagDigest = tagDigest, Action = UpdateAction.Refused, Reason = refusal }
                : candidate with { TagDigest = tagDigest, Action = UpdateAction.Pending };
        }
        catch (KubeflyException e)
        {
            return candidate with { Action = UpdateAction.Failed, Reason = e.Message };
        }
        catch (HttpRequestException e)
        {
            return candidate with { Action = UpdateAction.Failed, Reason = $"registry unreachable: {UntrustedText.Printable(e.Message)}" };
        }
    }
}
