namespace Kubefly.Cli.Documentation;

/// <summary>
/// What a command's help says beyond its one-line description and its flags: the rules a flag list
/// cannot show, and examples. Printed after `--help` and written into the man pages; keyed by the
/// command's path ("run", "image import").
/// </summary>
internal static class CommandDocs
{
    public static readonly IReadOnlyDictionary<string, string> Extended = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["run"] = """
            Flags before the first image apply to the pod; flags after an image apply to that app. Arguments after
            `--` go to the app, appended to the image's ENTRYPOINT + CMD (or to --exec), until `---`. kubefly
            exits with the app's status. Booleans take their value inline only (--inherit-env=false).

            Examples:
              kubefly run --insecure-options=image docker://busybox --exec=/bin/sh -- -c 'echo hello'
              kubefly run --uuid-file-save=/var/run/kubelet-pod.uuid \
                --volume=var-log,kind=host,source=/var/log --mount=volume=var-log,target=/var/log \
                quay.io/coreos/hyperkube:v1.5.4_coreos.0 --exec=/kubelet -- --config=/etc/kubernetes/kubelet.yaml
            """,
        ["status"] = """
            Exits 1 when --uuid-file cannot be read, as rkt did.

            Example:
              kubefly status --wait-ready=30s --uuid-file=/var/run/kubelet-pod.uuid
            """,
        ["enter"] = """
            Example:
              kubefly enter $(cat /var/run/kubelet-pod.uuid) /bin/ls /var/lib/kubelet
            """,
        ["stop"] = """
            Signals every process in the pod (found by its mount namespace) and nothing else: SIGTERM, or
            SIGKILL with --force.

            Example:
              kubefly stop --uuid-file=/var/run/kubelet-pod.uuid
            """,
        ["fetch"] = """
            Verifies the image by the trust policy before any layer is downloaded. A zstd:chunked layer
            is pulled partially from a registry: only the files the store lacks are fetched, and the
            rebuilt layer must hash to its diff_id (else it is fetched whole).

            Examples:
              kubefly fetch quay.io/coreos/etcd:v3.5.9
              kubefly fetch --insecure-options=image,http 127.0.0.1:5000/test/app:1
              kubefly fetch --pull-policy=update --partial=false quay.io/coreos/etcd:v3.5.9   # whole layers, blobs kept for export
            """,
        ["image import"] = """
            Example:
              kubefly image import --name=quay.io/coreos/hyperkube:v1.29.0 /media/usb/hyperkube.tar.zst
            """,
        ["trust"] = """
            Examples:
              kubefly trust quay.io/coreos/etcd:v3.5.9
              kubefly trust set --type=sigstoreSigned --key=/etc/pki/cosign.pub quay.io/coreos
            """,
        ["doctor"] = """
            Example:
              kubefly doctor --offline
            """,
        ["completion"] = """
            Examples:
              kubefly completion bash > /etc/bash_completion.d/kubefly
              kubefly completion zsh > "${fpath[1]}/_kubefly"
            """,
        ["unit"] = """
            Examples:
              kubefly unit kubelet --image-tag=v1.29.0 --auto-update > /etc/systemd/system/kubelet.service
              kubefly unit auto-update      # the updater's service and daily timer
            """,
        ["auto-update"] = """
            A unit opts in with Environment=KUBEFLY_AUTO_UPDATE=registry, and may set KUBEFLY_HEALTH_URL
            (answers 200 when healthy) and KUBEFLY_HEALTH_TIMEOUT (2m by default). Each pending update is
            fetched and verified first, then the tag moves and the unit is restarted through systemd. It
            passes when the restart job ends "done", the main process stays up for --settle and the health
            URL answers 200; otherwise the unit is rolled back to the digest it ran (kept in the store), its
            stopped dependents are started again, and that digest is skipped until the tag moves. A killed
            run is finished or reverted by the next (DIR/auto-update/state.json). Exit status: 0, or 1 when
            a unit failed, was refused or rolled back.

            Examples:
              kubefly auto-update --dry-run
              kubefly auto-update --max-jitter=30m --metrics=/var/lib/node_exporter/textfile
            """,
        ["version"] = """
            Example:
              kubefly version --format=json
            """,
    };
}
