using Kubefly.Images;
using Kubefly.Oci;

namespace Kubefly.Pods;

/// <summary>rkt's --pull-policy words for the image store's <see cref="PullPolicy"/>.</summary>
public static class PullPolicies
{
    public static PullPolicy Parse(string value) => value switch
    {
        "new" => PullPolicy.New,
        "never" => PullPolicy.Never,
        "update" => PullPolicy.Update,
        _ => throw new InvalidValueException($"invalid value \"{value}\" for --pull-policy: expected new, never or update"),
    };
}
