using System.CommandLine;

namespace Kubefly.Cli.Commands;

/// <summary>
/// run, status and enter as System.CommandLine commands, for `kubefly --help`, `help COMMAND`, the man
/// pages and the completions only: their grammar (per-app flags after the image, `--` and `---`, `--wait`
/// taking a value only inline) is parsed by hand (RunArgumentsParser, StatusCommand, EnterCommand), and
/// EngineCommandLine hands them their arguments before System.CommandLine would see them. The flags are
/// rkt's, described in rkt's words where rkt had them.
/// </summary>
internal static class HandParsedCommands
{

    public static IEnumerable<Command> Create()
    {
        yield return Run();
        yield return Status();
        yield return Enter();
    }

    private static Command Run()
    {
        var command = new Command("run", "Run image(s) in a pod, the app in place of kubefly (rkt's fly stage: host network, a private mount namespace)")
        {
            new Argument<string[]>("IMAGE") { Description = "an image reference (docker, oci:, oci-archive:, docker-archive:), its ID, or an ID prefix", Arity = ArgumentArity.OneOrMore },
        };
        foreach (var (name, description) in RunFlags)
        {
            command.Options.Add(new Option<string?>(name) { Description = description });
        }

        return command;
    }

    private static Command Status()
    {
        var command = new Command("status", "Check the status of a rkt pod: its state, pid, exit status and the pids still in it")
        {
            new Argument<string?>("UUID") { Description = "the pod's UUID (or a unique prefix); or give --uuid-file", Arity = ArgumentArity.ZeroOrOne },
            new Option<string?>("--uuid-file") { Description = "read the pod's UUID from this file" },
            new Option<string?>("--wait") { Description = "wait for the pod to exit, at most DURATION (inline only: --wait=30s; bare --wait waits forever)" },
            new Option<string?>("--wait-ready") { Description = "wait for the pod to be ready, at most DURATION (inline only: --wait-ready=30s)" },
            new Option<string?>("--format") { Description = "output format: json or json-pretty (default: key=value lines)" },
        };
        return command;
    }

    private static Command Enter()
    {
        var command = new Command("enter", "Enter the namespaces of an app within a rkt pod and run a command there (default /bin/sh)")
        {
            new Argument<string>("UUID") { Description = "the pod's UUID (or a unique prefix)" },
            new Argument<string[]>("CMD") { Description = "the command and its arguments (default /bin/sh)", Arity = ArgumentArity.ZeroOrMore },
            new Option<string?>("--app") { Description = "name of the app to enter within the pod (a fly pod has one)" },
        };
        return command;
    }

    /// <summary>run's flags in rkt's order: the pod's, then each app's.</summary>
    private static readonly (string Name, string Description)[] RunFlags =
    [
        ("--volume", "pod: volumes to make available in the pod: NAME,kind=host,source=PATH[,readOnly=BOOL][,recursive=BOOL][,propagation=rslave|rshared|private] or NAME,kind=empty[,mode=0755][,uid=N][,gid=N]; default propagation follows the source's, as rkt fly's binds did"),
        ("--mount", "pod or app: mount a volume into the app: volume=NAME,target=PATH"),
        ("--uuid-file-save", "pod: write the pod's UUID to this file (for `rkt stop`/`rkt rm` in a unit's ExecStop)"),
        ("--set-env", "pod: an environment variable for all apps: NAME=VALUE (repeatable)"),
        ("--set-env-file", "pod: read NAME=VALUE lines for all apps from this file"),
        ("--inherit-env", "pod: apps inherit kubefly's environment, below the image's and the flags' (default false)"),
        ("--dns", "pod: name servers (IPs, comma-separated) for the app's /etc/resolv.conf, \"host\" to bind the host's, or \"none\" (default: the image's own)"),
        ("--dns-search", "pod: refused (also --dns-opt, --dns-domain): use --dns=host, or bind a resolv.conf with --volume and --mount"),
        ("--hosts-entry", "pod: an /etc/hosts entry IP=HOSTNAME, or \"host\" to bind the host's /etc/hosts"),
        ("--net", "pod: accepted and ignored: fly pods always use the host's network"),
        ("--hostname", "pod: accepted and ignored: fly pods share the host's hostname"),
        ("--pull-policy", "pod: when to fetch the image: new (only when missing; default), update (always check the registry), never"),
        ("--store-only", "pod: use only images already in the store (as --pull-policy=never)"),
        ("--no-store", "pod: always fetch the image (as --pull-policy=update)"),
        ("--no-overlay", "pod: accepted and ignored: a pod always gets a fresh overlay over the read-only image layers"),
        ("--interactive", "pod: run the app with the terminal attached (a fly app always inherits kubefly's stdio)"),
        ("--stage1-from-dir", "pod: accepted for rkt compatibility; kubefly is its own fly stage (also --stage1-name, -path, -url, -hash)"),
        ("--private-users", "pod: refused when true: fly pods run in the host's user namespace"),
        ("--mds-register", "pod: refused when true: there is no metadata service"),
        ("--port", "pod: refused: it does not work with the host's network"),
        ("--pod-manifest", "pod: refused: kubefly runs images, not appc pod manifests"),
        ("--ipc", "pod: auto or parent only: fly pods share the host's IPC namespace"),
        ("--exec", "app: the command to run instead of the image's ENTRYPOINT + CMD"),
        ("--signature", "app: refused: kubefly verifies images by its trust policy (see `kubefly trust`)"),
        ("--user", "app: the user to run as: NAME, UID, UID:GID or NAME:GROUP, looked up in the image's /etc/passwd (default: the image's, else root)"),
        ("--group", "app: the group to run as: NAME or GID (default: the user's)"),
        ("--working-dir", "app: the working directory (default: the image's, else /)"),
        ("--name", "app: the app's name (default: from the image name)"),
        ("--environment", "app: an environment variable for this app: NAME=VALUE, above --set-env (repeatable)"),
        ("--readonly-rootfs", "app: refused when true: the fly stage gives the app a writable overlay"),
        ("--supplementary-gids", "app: refused: the app gets the groups its user has in the image's /etc/group"),
        ("--memory", "app: accepted and ignored, as fly did: the app runs in the unit's cgroup, which systemd limits (also --cpu, --cpu-shares, --caps-retain, --caps-remove, --seccomp, --oom-score-adj)"),
        ("--annotation", "app: accepted and ignored: NAME=VALUE (also --user-annotation, --user-label)"),
    ];
}
