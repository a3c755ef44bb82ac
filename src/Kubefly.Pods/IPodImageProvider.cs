using Kubefly.Images;
using Kubefly.Oci;

namespace Kubefly.Pods;

/// <summary>
/// How `run` gets its image: main wires the real image store (fetch, verify, unpack) behind it; tests
/// give it a rootfs built on the spot. Throws a KubeflyException naming the image when it cannot.
/// </summary>
public interface IPodImageProvider
{
    StoredImage Acquire(string image, PullPolicy policy, InsecureOptions insecure);

    /// <summary>Records that a pod uses the image (so image rm/gc keep it) and when it was last used.</summary>
    void MarkUsed(StoredImage image, string podUuid, string podsDirectory);
}
