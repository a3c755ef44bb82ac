using Kubefly.Oci;

namespace Kubefly.Pods;

/// <summary>rkt's --pull-policy: when to fetch an image rather than use the stored one.</summary>
public enum PullPolicy
{
    /// <summary>Fetch only when the store has no image by that name (the default).</summary>
    New,

    /// <summary>Never fetch: the image must already be stored.</summary>
    Never,

    /// <summary>Always ask the source and fetch when it has something newer.</summary>
    Update,
}

public static class PullPolicies
{
    public static PullPolicy Parse(string value) => value switch
    {
        "new" => PullPolicy.New,
        "never" => PullPolicy.Never,
        "update" => PullPolicy.Update,
        _ => throw new UsageException($"invalid value \"{value}\" for --pull-policy: expected new, never or update"),
    };
}
