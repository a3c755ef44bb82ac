using Kubefly.Images;
using Kubefly.Oci;

namespace Kubefly.Pods;

/// <summary>
/// How `run` gets its image: main wires the real image store (fetch, verify, unpack) behind it; tests
/// give it a rootfs built on the spot. Throws a KubeflyException naming the image when it cannot.
/// </summary>
public interface IPodImageProvider
{
    /// <summary>
    /// Fetches (per the policy) and loads the image, and pins it for the pod about to be created, all
    /// under the store's shared lock: image rm and gc, which take it exclusively, either ran before
    /// (then the image is fetched again, or "not found" under --pull-policy=never) or see the pin and
    /// leave the image alone. Never a half-deleted rootfs.
    /// </summary>
    StoredImage AcquireAndPin(string image, PullPolicy policy, InsecureOptions insecure, PodUuid pod, string podsDirectory, bool transient);
}
