using Kubefly.Wrappers;

namespace Kubefly.Tests.Unit.Wrappers;

/// <summary>
/// A described host for the composer (which only asks which paths exist and who users are), so the
/// expected argv does not depend on the machine running the tests.
/// </summary>
internal static class TestHost
{
    public const string Passwd = "root:x:0:0:root:/root:/bin/bash\netcd:x:232:232:etcd user:/var/lib/etcd:/sbin/nologin\n";

    /// <summary>Every system volume source exists, as on CoreOS.</summary>
    public static readonly string[] CoreOsPaths =
    [
        "/etc/kubernetes", "/etc/ssl/certs", "/usr/share/ca-certificates", "/var/lib/docker", "/var/lib/kubelet",
        "/var/log", "/usr/lib/os-release", "/run", "/lib/modules", "/etc/machine-id", "/etc/hosts", "/etc/resolv.conf",
        "/run/flannel", "/var/lib/etcd",
    ];

    public static HostView With(IEnumerable<string> existing, IEnumerable<string>? directories = null, IEnumerable<string>? sockets = null)
    {
        var dirs = new HashSet<string>(directories ?? [], StringComparer.Ordinal);
        var socks = new HashSet<string>(sockets ?? [], StringComparer.Ordinal);
        var all = new HashSet<string>(existing, StringComparer.Ordinal);
        return new HostView(
            path => socks.Contains(path) ? HostPathKind.Socket
                : dirs.Contains(path) ? HostPathKind.Directory
                : all.Contains(path) ? HostPathKind.Other
                : HostPathKind.Missing,
            user => Kubefly.Linux.Passwd.Find(Kubefly.Linux.Passwd.ParseUsers(Passwd), user));
    }

    public static HostView CoreOs(IEnumerable<string>? directories = null, IEnumerable<string>? sockets = null) =>
        With(CoreOsPaths, directories, sockets);

    public static Dictionary<string, string> Env(params (string Name, string Value)[] variables) =>
        variables.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);

    /// <summary>kubelet-wrapper's system volumes and mounts, in order, when every source exists.</summary>
    public static readonly string[] KubeletSystemArgs =
    [
        "--volume", "coreos-etc-kubernetes,kind=host,source=/etc/kubernetes,readOnly=false",
        "--volume", "coreos-etc-ssl-certs,kind=host,source=/etc/ssl/certs,readOnly=true",
        "--volume", "coreos-usr-share-certs,kind=host,source=/usr/share/ca-certificates,readOnly=true",
        "--volume", "coreos-var-lib-docker,kind=host,source=/var/lib/docker,readOnly=false",
        "--volume", "coreos-var-lib-kubelet,kind=host,source=/var/lib/kubelet,readOnly=false,recursive=true,propagation=rshared",
        "--volume", "coreos-var-log,kind=host,source=/var/log,readOnly=false",
        "--volume", "coreos-os-release,kind=host,source=/usr/lib/os-release,readOnly=true",
        "--volume", "coreos-run,kind=host,source=/run,readOnly=false",
        "--volume", "coreos-lib-modules,kind=host,source=/lib/modules,readOnly=true",
        "--volume", "coreos-etc-machine-id,kind=host,source=/etc/machine-id,readOnly=true",
        "--mount", "volume=coreos-etc-kubernetes,target=/etc/kubernetes",
        "--mount", "volume=coreos-etc-ssl-certs,target=/etc/ssl/certs",
        "--mount", "volume=coreos-usr-share-certs,target=/usr/share/ca-certificates",
        "--mount", "volume=coreos-var-lib-docker,target=/var/lib/docker",
        "--mount", "volume=coreos-var-lib-kubelet,target=/var/lib/kubelet",
        "--mount", "volume=coreos-var-log,target=/var/log",
        "--mount", "volume=coreos-os-release,target=/etc/os-release",
        "--mount", "volume=coreos-run,target=/run",
        "--mount", "volume=coreos-lib-modules,target=/lib/modules",
        "--mount", "volume=coreos-etc-machine-id,target=/etc/machine-id",
        "--hosts-entry", "host",
    ];
}
