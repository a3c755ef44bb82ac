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
}
