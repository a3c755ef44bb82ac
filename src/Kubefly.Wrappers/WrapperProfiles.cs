namespace Kubefly.Wrappers;

/// <summary>The three CoreOS wrappers (their final form; see docs/wrappers.md).</summary>
public static class WrapperProfiles
{
    private const string NotifyTarget = "/run/systemd/notify";

    /// <summary>The uuid files live under the kubefly state directory, which survives a reboot.</summary>
    private const string UuidDirectory = "/var/lib/kubefly";

    public static WrapperProfile Kubelet { get; } = new()
    {
        Name = "kubelet",
        ProgramName = "kubelet-wrapper",
        ImageVariable = "KUBELET_IMAGE",
        ImageTagVariable = "KUBELET_IMAGE_TAG",
        ImageUrlVariable = "KUBELET_IMAGE_URL",
        ImageArgsVariable = "KUBELET_IMAGE_ARGS",
        DefaultImageUrl = "docker://quay.io/coreos/hyperkube",
        DefaultImageArgs = "--exec=/kubelet",
        DeprecatedVariables =
        [
            new("KUBELET_VERSION", "KUBELET_IMAGE_TAG", DeprecationKind.Fallback, "KUBELET_VERSION environment variable is deprecated, please use KUBELET_IMAGE_TAG instead"),
            new("KUBELET_ACI", "KUBELET_IMAGE_URL", DeprecationKind.Fallback, "KUBELET_ACI environment variable is deprecated, please use the KUBELET_IMAGE_URL instead"),
            new("RKT_OPTS", "RKT_RUN_ARGS", DeprecationKind.Append, "RKT_OPTS environment variable is deprecated, please use the RKT_RUN_ARGS instead"),
        ],
        HostDirectories =
        [
            new() { Path = "/etc/kubernetes" },
            new() { Path = "/var/lib/docker" },
            new() { Path = "/var/lib/kubelet" },
            new() { Path = "/run/kubelet" },
        ],
        Volumes =
        [
            new() { Name = "coreos-etc-kubernetes", Source = "/etc/kubernetes", Target = "/etc/kubernetes" },
            new() { Name = "coreos-etc-ssl-certs", Source = "/etc/ssl/certs", Target = "/etc/ssl/certs", ReadOnly = true },
            new() { Name = "coreos-usr-share-certs", Source = "/usr/share/ca-certificates", Target = "/usr/share/ca-certificates", ReadOnly = true },
            new() { Name = "coreos-var-lib-docker", Source = "/var/lib/docker", Target = "/var/lib/docker" },

            // Pod volumes are mounted under here by the kubelet and must reach the host (and back).
            new() { Name = "coreos-var-lib-kubelet", Source = "/var/lib/kubelet", Target = "/var/lib/kubelet", Recursive = true, Propagation = "rshared" },
            new() { Name = "coreos-var-log", Source = "/var/log", Target = "/var/log" },
            new() { Name = "coreos-os-release", Source = "/usr/lib/os-release", Target = "/etc/os-release", ReadOnly = true },
            new() { Name = "coreos-run", Source = "/run", Target = "/run" },
            new() { Name = "coreos-lib-modules", Source = "/lib/modules", Target = "/lib/modules", ReadOnly = true },
            new() { Name = "coreos-etc-machine-id", Source = "/etc/machine-id", Target = "/etc/machine-id", ReadOnly = true },
        ],
        FlagsAfterMounts = ["--hosts-entry", "host"],
        ChecksKubeletApi = true,
        Unit = new()
        {
            Description = "Kubernetes kubelet (kubefly, rkt-fly compatible)",
            WrapperPath = "/usr/lib/coreos/kubelet-wrapper",
            UuidFile = $"{UuidDirectory}/kubelet-pod.uuid",
            UnitLines = ["Wants=network-online.target", "After=network-online.target"],
            ServiceLines = ["Restart=always", "RestartSec=10"],
        },
    };

    public static WrapperProfile Etcd { get; } = new()
    {
        Name = "etcd",
        ProgramName = "etcd-wrapper",
        ImageVariable = "ETCD_IMAGE",
        ImageTagVariable = "ETCD_IMAGE_TAG",
        ImageUrlVariable = "ETCD_IMAGE_URL",
        ImageArgsVariable = "ETCD_IMAGE_ARGS",
        DefaultImageUrl = "docker://quay.io/coreos/etcd",
        RequiredVariables = ["ETCD_USER", "ETCD_DATA_DIR"],
        HostDirectories = [new() { PathVariable = "ETCD_DATA_DIR", OwnerVariable = "ETCD_USER" }],
        ConditionalVolumes =
        [
            new()
            {
                Name = "coreos-systemd-dir", SourceVariable = "SYSTEMD_SYSTEM_DIR_SRC", DefaultSource = "/run/systemd/system",
                Target = "/run/systemd/system", Condition = HostCondition.Directory, ReadOnly = true, MountFirst = true,
            },
            NotifySocket(),
        ],
        Volumes =
        [
            new() { Name = "coreos-data-dir", Source = "/var/lib/etcd", SourceVariable = "ETCD_DATA_DIR", Target = "/var/lib/etcd" },
            new() { Name = "coreos-etc-ssl-certs", Source = "/etc/ssl/certs", SourceVariable = "ETCD_SSL_DIR", Target = "/etc/ssl/certs", ReadOnly = true },
            new() { Name = "coreos-usr-share-certs", Source = "/usr/share/ca-certificates", Target = "/usr/share/ca-certificates", ReadOnly = true },
            new() { Name = "coreos-etc-hosts", Source = "/etc/hosts", Target = "/etc/hosts", ReadOnly = true },
            new() { Name = "coreos-etc-resolv", Source = "/etc/resolv.conf", Target = "/etc/resolv.conf", ReadOnly = true },
        ],
        FlagsAfterMounts = ["--inherit-env"],
        UserVariable = "ETCD_USER",

        // Inside, the data dir is always /var/lib/etcd; etcd reads ETCD_DATA_DIR through --inherit-env.
        EnvironmentOverrides = [new("ETCD_DATA_DIR", "/var/lib/etcd")],
        Unit = new()
        {
            Description = "etcd (kubefly, rkt-fly compatible)",
            WrapperPath = "/usr/lib/coreos/etcd-wrapper",
            UuidFile = $"{UuidDirectory}/etcd-member-wrapper.uuid",
            UnitLines = ["Wants=network-online.target network.target", "After=network-online.target", "Conflicts=etcd.service"],
            ServiceLines = ["Type=notify", "Restart=on-failure", "RestartSec=10s", "TimeoutStartSec=0", "LimitNOFILE=40000"],
            Environment = [new("ETCD_USER", "etcd"), new("ETCD_DATA_DIR", "/var/lib/etcd")],
            ExecStartWords = ["$ETCD_OPTS"],
        },
    };

    public static WrapperProfile Flannel { get; } = new()
    {
        Name = "flannel",
        ProgramName = "flannel-wrapper",
        ImageVariable = "FLANNEL_IMAGE",
        ImageTagVariable = "FLANNEL_IMAGE_TAG",
        ImageUrlVariable = "FLANNEL_IMAGE_URL",
        ImageArgsVariable = "FLANNEL_IMAGE_ARGS",
        DefaultImageUrl = "docker://quay.io/coreos/flannel",
        DeprecatedVariables =
        [
            new("FLANNEL_VER", "FLANNEL_IMAGE_TAG", DeprecationKind.Fallback, "FLANNEL_VER environment variable is deprecated, please use FLANNEL_IMAGE_TAG instead"),
            new("FLANNEL_IMG", "FLANNEL_IMAGE_URL", DeprecationKind.Fallback, "FLANNEL_IMG environment variable is deprecated, please use FLANNEL_IMAGE_URL instead"),
        ],
        HostDirectories = [new() { Path = "/run/flannel" }],
        ConditionalVolumes =
        [
            new()
            {
                Name = "coreos-ssl", SourceVariable = "ETCD_SSL_DIR", DefaultSource = "/etc/ssl/etcd",
                Condition = HostCondition.Directory, ReadOnly = true,
            },
            NotifySocket(),
        ],
        FlagsBeforeVolumes = ["--net=host"],
        Volumes =
        [
            new() { Name = "coreos-run-flannel", Source = "/run/flannel", Target = "/run/flannel" },
            new() { Name = "coreos-etc-ssl-certs", Source = "/etc/ssl/certs", Target = "/etc/ssl/certs", ReadOnly = true },
            new() { Name = "coreos-usr-share-certs", Source = "/usr/share/ca-certificates", Target = "/usr/share/ca-certificates", ReadOnly = true },
            new() { Name = "coreos-etc-hosts", Source = "/etc/hosts", Target = "/etc/hosts", ReadOnly = true },
            new() { Name = "coreos-etc-resolv", Source = "/etc/resolv.conf", Target = "/etc/resolv.conf", ReadOnly = true },
        ],
        FlagsAfterMounts = ["--inherit-env"],
        Unit = new()
        {
            Description = "flannel network fabric (kubefly, rkt-fly compatible)",
            WrapperPath = "/usr/lib/coreos/flannel-wrapper",
            UuidFile = $"{UuidDirectory}/flannel-wrapper.uuid",
            UnitLines = ["After=etcd-member.service"],
            ServiceLines = ["Type=notify", "Restart=always", "RestartSec=10s", "TimeoutStartSec=300", "LimitNOFILE=40000", "EnvironmentFile=-/run/flannel/options.env"],
            ExecStartPre = ["/usr/bin/mkdir --parents /run/flannel"],
            ExecStartWords = ["$FLANNEL_OPTS"],
        },
    };

    public static IReadOnlyList<WrapperProfile> All { get; } = [Kubelet, Etcd, Flannel];

    /// <summary>The profile for "kubelet" / "kubelet-wrapper" (and so on), or null.</summary>
    public static WrapperProfile? Find(string name) =>
        All.FirstOrDefault(profile => profile.Name == name || profile.ProgramName == name);

    private static ConditionalVolume NotifySocket() => new()
    {
        Name = "coreos-notify",
        SourceVariable = "NOTIFY_SOCKET",
        Target = NotifyTarget,
        Condition = HostCondition.Socket,
        MountFirst = true,
        ExtraFlags = [$"--set-env=NOTIFY_SOCKET={NotifyTarget}"],
    };
}
