namespace Kubefly.Tests.Integration.Wrappers;

/// <summary>
/// The kubelet units CoreOS documented for kubelet-wrapper (docs/wrappers.md), character for character,
/// with one change: the <c>...other flags...</c> placeholder line is dropped. The rbd unit is elided in the
/// seed after its RKT_RUN_ARGS ("..."); it is completed with the first example's lines, and the manual
/// deployment unit keeps only the lines the seed shows.
/// </summary>
public static class SeedUnits
{
    public const string Name = "kubelet.service";
    public const string UuidFile = "/var/run/kubelet-pod.uuid";
    public const string ImageTag = "v1.5.4_coreos.0";

    /// <summary>The kubelet flags every seed unit passes.</summary>
    public static readonly IReadOnlyList<string> KubeletFlags = ["--api-servers=http://127.0.0.1:8080", "--pod-manifest-path=/etc/kubernetes/manifests"];

    public const string Basic = """
        [Service]
        Environment=KUBELET_IMAGE_TAG=v1.5.4_coreos.0
        Environment="RKT_RUN_ARGS=--uuid-file-save=/var/run/kubelet-pod.uuid"
        ExecStartPre=-/usr/bin/rkt rm --uuid-file=/var/run/kubelet-pod.uuid
        ExecStart=/usr/lib/coreos/kubelet-wrapper \
          --api-servers=http://127.0.0.1:8080 \
          --pod-manifest-path=/etc/kubernetes/manifests
        ExecStop=-/usr/bin/rkt stop --uuid-file=/var/run/kubelet-pod.uuid
        """;

    public const string HostDns = """
        [Service]
        Environment=KUBELET_IMAGE_TAG=v1.5.4_coreos.0
        Environment="RKT_RUN_ARGS=--volume=resolv,kind=host,source=/etc/resolv.conf \
          --mount volume=resolv,target=/etc/resolv.conf \
          --uuid-file-save=/var/run/kubelet-pod.uuid"
        ExecStartPre=-/usr/bin/rkt rm --uuid-file=/var/run/kubelet-pod.uuid
        ExecStart=/usr/lib/coreos/kubelet-wrapper \
          --api-servers=http://127.0.0.1:8080 \
          --pod-manifest-path=/etc/kubernetes/manifests
        ExecStop=-/usr/bin/rkt stop --uuid-file=/var/run/kubelet-pod.uuid
        """;

    public const string Iscsi = """
        [Service]
        Environment=KUBELET_IMAGE_TAG=v1.5.4_coreos.0
        Environment="RKT_RUN_ARGS=--volume iscsiadm,kind=host,source=/usr/sbin/iscsiadm \
          --mount volume=iscsiadm,target=/usr/sbin/iscsiadm \
          --uuid-file-save=/var/run/kubelet-pod.uuid"
        ExecStartPre=-/usr/bin/rkt rm --uuid-file=/var/run/kubelet-pod.uuid
        ExecStart=/usr/lib/coreos/kubelet-wrapper \
          --api-servers=http://127.0.0.1:8080 \
          --pod-manifest-path=/etc/kubernetes/manifests
        ExecStop=-/usr/bin/rkt stop --uuid-file=/var/run/kubelet-pod.uuid
        """;

    public const string Rbd = """
        [Service]
        Environment=KUBELET_IMAGE_TAG=v1.5.4_coreos.0
        Environment="RKT_RUN_ARGS=--volume modprobe,kind=host,source=/usr/sbin/modprobe \
          --mount volume=modprobe,target=/usr/sbin/modprobe \
          --volume lib-modules,kind=host,source=/lib/modules \
          --mount volume=lib-modules,target=/lib/modules \
          --uuid-file-save=/var/run/kubelet-pod.uuid"
        ExecStartPre=-/usr/bin/rkt rm --uuid-file=/var/run/kubelet-pod.uuid
        ExecStart=/usr/lib/coreos/kubelet-wrapper \
          --api-servers=http://127.0.0.1:8080 \
          --pod-manifest-path=/etc/kubernetes/manifests
        ExecStop=-/usr/bin/rkt stop --uuid-file=/var/run/kubelet-pod.uuid
        """;

    public const string ManualOptBin = """
        [Service]
        Environment=KUBELET_IMAGE_TAG=v1.5.4_coreos.0
        ExecStart=/opt/bin/kubelet-wrapper \
          --api-servers=http://127.0.0.1:8080 \
          --pod-manifest-path=/etc/kubernetes/manifests
        """;
}
