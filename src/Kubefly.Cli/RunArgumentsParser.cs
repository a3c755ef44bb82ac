using System.Net;
using Kubefly.Images;
using Kubefly.Linux;
using Kubefly.Oci;
using Kubefly.Pods;

namespace Kubefly.Cli;

/// <summary>
/// rkt's `run` grammar, by hand: flags before the first image are pod-wide; a word that is not a flag
/// starts an app; per-app flags apply to the image before them; `--` starts that image's arguments and
/// `---` ends them. Flags take `--flag=value` or `--flag value` (booleans only `--flag[=BOOL]`).
/// Every malformed command line is a <see cref="UsageException"/>.
/// </summary>
public sealed class RunArgumentsParser
{
    private static readonly HashSet<string> IgnoredIsolatorFlags = new(StringComparer.Ordinal)
    {
        "--memory", "--cpu", "--cpu-shares", "--caps-retain", "--caps-remove", "--cap-retain", "--cap-remove", "--seccomp", "--oom-score-adj",
    };

    private static readonly HashSet<string> IgnoredLabelFlags = new(StringComparer.Ordinal)
    {
        "--annotation", "--user-annotation", "--user-label",
    };

    private readonly List<AppBuilder> apps = [];
    private readonly List<VolumeSpec> volumes = [];
    private readonly List<MountSpec> podMounts = [];
    private readonly List<KeyValuePair<string, string>> explicitEnvironment = [];
    private readonly List<KeyValuePair<string, string>> fileEnvironment = [];
    private readonly List<string> dnsFlags = [];
    private readonly List<string> hostsFlags = [];
    private readonly List<string> notices = [];
    private readonly GlobalFlagConsumer? globals;
    private string? uuidFileSave;
    private bool inheritEnvironment;
    private PullPolicy pullPolicy = PullPolicy.New;
    private bool storeOnly;
    private bool noStore;
    private string? stage1Flag;

    private RunArgumentsParser(GlobalFlagConsumer? globals) => this.globals = globals;

    public static RunArguments Parse(IReadOnlyList<string> tokens, GlobalFlagConsumer? globals = null)
    {
        try
        {
            return new RunArgumentsParser(globals).ParseAll(tokens);
        }
        catch (InvalidValueException e)
        {
            // A flag's value that does not parse (a volume, a duration, a pull policy) is a usage error here.
            throw new UsageException(e.Message);
        }
    }

    private RunArguments ParseAll(IReadOnlyList<string> tokens)
    {
        var inAppArguments = false;
        var appsAtLastArguments = 0;
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.Length == 0)
            {
                continue;
            }

            if (inAppArguments)
            {
                if (token == "---")
                {
                    inAppArguments = false;
                }
                else
                {
                    apps[^1].Arguments!.Add(token);
                }

                continue;
            }

            switch (token)
            {
                case "--":
                    if (apps.Count == appsAtLastArguments)
                    {
                        throw new UsageException(apps.Count == 0
                            ? "an image is required before any app arguments"
                            : "only one set of app arguments allowed per image");
                    }

                    appsAtLastArguments = apps.Count;
                    apps[^1].Arguments = [];
                    inAppArguments = true;
                    break;
                case "---":
                    // A stray terminator outside app arguments: rkt ignored it.
                    break;
                default:
                    if (token.StartsWith('-') && token != "-")
                    {
                        if (globals is null || !globals(tokens, ref i))
                        {
                            ParseFlag(tokens, ref i);
                        }
                    }
                    else
                    {
                        apps.Add(new AppBuilder(token));
                    }

                    break;
            }
        }

        return Build();
    }

    private RunArguments Build()
    {
        if (apps.Count == 0)
        {
            throw new UsageException("must provide at least one image or specify the pod manifest");
        }

        if (apps.Count > 1)
        {
            throw new UsageException("fly only supports 1 application per Pod for now");
        }

        if (storeOnly && noStore)
        {
            throw new UsageException("both --store-only and --no-store specified");
        }

        var duplicate = volumes.GroupBy(v => v.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new UsageException($"duplicate volume name \"{duplicate.Key}\"");
        }

        foreach (var mount in podMounts.Concat(apps.SelectMany(a => a.Mounts)))
        {
            if (!volumes.Exists(v => v.Name == mount.Volume))
            {
                throw new UsageException($"dangling mount point \"{mount.Target}\": volume \"{mount.Volume}\" not found");
            }
        }

        return new RunArguments
        {
            Apps = apps.ConvertAll(a => a.Build()),
            Volumes = volumes,
            PodMounts = podMounts,
            UuidFileSave = uuidFileSave,
            InheritEnvironment = inheritEnvironment,
            EnvironmentFromFiles = fileEnvironment,
            ExplicitEnvironment = explicitEnvironment,
            Dns = ParseDns(),
            HostsEntries = ParseHostsEntries(),
            PullPolicy = storeOnly ? PullPolicy.Never : noStore ? PullPolicy.Update : pullPolicy,
            Notices = notices,
        };
    }

    private void ParseFlag(IReadOnlyList<string> tokens, ref int index)
    {
        var token = tokens[index];
        if (!token.StartsWith("--", StringComparison.Ordinal))
        {
            throw new UsageException($"unknown shorthand flag: '{token[1]}' in {token}");
        }

        var (name, inline) = FlagTokens.Split(token);
        switch (name)
        {
            // Pod-wide flags.
            case "--volume":
                volumes.Add(VolumeSpec.Parse(FlagTokens.Value(tokens, ref index, name, inline)));
                break;
            case "--mount":
                var mount = MountSpec.Parse(FlagTokens.Value(tokens, ref index, name, inline));
                if (apps.Count == 0)
                {
                    podMounts.Add(mount);
                }
                else
                {
                    apps[^1].Mounts.Add(mount);
                }

                break;
            case "--uuid-file-save":
                uuidFileSave = FlagTokens.Value(tokens, ref index, name, inline);
                break;
            case "--set-env":
                AddExplicitEnvironment(FlagTokens.Value(tokens, ref index, name, inline));
                break;
            case "--set-env-file":
                AddEnvironmentFile(FlagTokens.Value(tokens, ref index, name, inline));
                break;
            case "--inherit-env":
                inheritEnvironment = Bool(name, inline);
                break;
            case "--dns":
                dnsFlags.Add(FlagTokens.Value(tokens, ref index, name, inline));
                break;
            case "--hosts-entry":
                hostsFlags.Add(FlagTokens.Value(tokens, ref index, name, inline));
                break;
            case "--dns-search" or "--dns-opt" or "--dns-domain":
                FlagTokens.Value(tokens, ref index, name, inline);
                throw new UsageException($"{name} is not supported by kubefly: use --dns=host or bind a resolv.conf with --volume/--mount");
            case "--net":
                // Only --net=VALUE: a bare --net must not swallow the image after it (rkt's NoOptDefVal).
                notices.Add($"--net{(inline is null ? string.Empty : "=" + inline)} ignored: fly pods always use the host's network");
                break;
            case "--hostname":
                FlagTokens.Value(tokens, ref index, name, inline);
                break;
            case "--pull-policy":
                pullPolicy = PullPolicies.Parse(FlagTokens.Value(tokens, ref index, name, inline));
                break;
            case "--store-only":
                storeOnly = Bool(name, inline);
                break;
            case "--no-store":
                noStore = Bool(name, inline);
                break;
            case "--no-overlay":
                if (Bool(name, inline))
                {
                    notices.Add("--no-overlay ignored: kubefly always gives a pod a fresh overlay over the shared, read-only image layers");
                }

                break;
            case "--interactive":
                // fly execs the app in place of kubefly, so it already has the caller's terminal.
                Bool(name, inline);
                break;
            case "--stage1-from-dir" or "--stage1-name" or "--stage1-path" or "--stage1-url" or "--stage1-hash":
                Stage1(name, FlagTokens.Value(tokens, ref index, name, inline));
                break;
            case "--private-users":
                if (Bool(name, inline))
                {
                    throw new UsageException("--private-users is not supported: fly pods run in the host's user namespace");
                }

                break;
            case "--mds-register":
                if (Bool(name, inline))
                {
                    throw new UsageException("--mds-register is not supported: kubefly has no metadata service");
                }

                break;
            case "--port":
                FlagTokens.Value(tokens, ref index, name, inline);
                throw new UsageException("--port flag does not work with 'host' networking");
            case "--pod-manifest":
                FlagTokens.Value(tokens, ref index, name, inline);
                throw new UsageException("--pod-manifest is not supported by kubefly: give the image and its flags on the command line");
            case "--ipc":
                var ipc = FlagTokens.Value(tokens, ref index, name, inline);
                if (ipc is not ("auto" or "parent"))
                {
                    throw new UsageException($"--ipc={ipc} is not supported: fly pods always share the host's IPC namespace");
                }

                break;

            // Per-app flags.
            case "--exec":
                var app = RequireApp(name);
                app.Exec = app.Exec is null ? FlagTokens.Value(tokens, ref index, name, inline) : throw new UsageException("--exec specified multiple times for the same image");
                break;
            case "--signature":
                RequireApp(name);
                throw new UsageException($"--signature={UntrustedText.Printable(FlagTokens.Value(tokens, ref index, name, inline))}: kubefly verifies images with its trust policy, not per-run signature files");
            case "--user":
                RequireApp(name).User = FlagTokens.Value(tokens, ref index, name, inline);
                break;
            case "--group":
                RequireApp(name).Group = FlagTokens.Value(tokens, ref index, name, inline);
                break;
            case "--working-dir":
                RequireApp(name).WorkingDirectory = FlagTokens.Value(tokens, ref index, name, inline);
                break;
            case "--name":
                var named = RequireApp(name);
                var appName = FlagTokens.Value(tokens, ref index, name, inline);
                named.Name = VolumeSpec.DescribeInvalidName(appName) is { } problem
                    ? throw new UsageException($"invalid app name format \"{appName}\": {problem}")
                    : appName;
                break;
            case "--environment":
                var target = RequireApp(name);
                var pair = FlagTokens.Value(tokens, ref index, name, inline);
                var (environmentKey, environmentValue) = SplitVariable(pair) ?? throw new UsageException($"invalid format of --environment flag \"{UntrustedText.Printable(pair)}\": must be NAME=VALUE with a non-empty NAME");
                Set(target.Environment, environmentKey, environmentValue);
                break;
            case "--readonly-rootfs":
                RequireApp(name);
                if (VolumeSpecBool(name, FlagTokens.Value(tokens, ref index, name, inline)))
                {
                    throw new UsageException("--readonly-rootfs is not supported by kubefly's fly stage");
                }

                break;
            case "--supplementary-gids":
                RequireApp(name);
                FlagTokens.Value(tokens, ref index, name, inline);
                throw new UsageException("--supplementary-gids is not supported by kubefly's fly stage: the app gets the groups of its user");
            default:
                if (IgnoredIsolatorFlags.Contains(name))
                {
                    // fly never applied isolators: the app runs in the unit's cgroup, which systemd limits.
                    RequireApp(name);
                    FlagTokens.Value(tokens, ref index, name, inline);
                    break;
                }

                if (IgnoredLabelFlags.Contains(name))
                {
                    RequireApp(name);
                    var label = FlagTokens.Value(tokens, ref index, name, inline);
                    if (!label.Contains('=', StringComparison.Ordinal))
                    {
                        throw new UsageException($"invalid format of {name} flag \"{label}\"");
                    }

                    break;
                }

                throw new UsageException($"unknown flag: {name}");
        }
    }

    private AppBuilder RequireApp(string flag) =>
        apps.Count > 0 ? apps[^1] : throw new UsageException($"{flag} must follow an image");

    private void AddExplicitEnvironment(string pair)
    {
        var (key, value) = SplitVariable(pair) ?? throw new UsageException($"invalid value \"{UntrustedText.Printable(pair)}\" for --set-env: must be specified as key=value, with a non-empty key");
        if (explicitEnvironment.Exists(p => p.Key == key))
        {
            throw new UsageException($"invalid value \"{UntrustedText.Printable(pair)}\" for --set-env: key \"{UntrustedText.Printable(key)}\" already set");
        }

        explicitEnvironment.Add(new(key, value));
    }

    /// <summary>
    /// NAME=VALUE split at the first '='; null when there is no '=', the name is empty, or either part
    /// holds a NUL (execve could not pass it, and an empty name is no variable at all).
    /// </summary>
    internal static (string Key, string Value)? SplitVariable(string pair)
    {
        var split = pair.IndexOf('=', StringComparison.Ordinal);
        return split <= 0 || pair.Contains('\0', StringComparison.Ordinal) ? null : (pair[..split], pair[(split + 1)..]);
    }

    /// <summary>rkt's env file: KEY=VALUE lines; blank lines and lines starting with # or ; are skipped.</summary>
    private void AddEnvironmentFile(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"invalid value \"{path}\" for --set-env-file: {IoErrors.Describe(e, "open", path)}");
        }

        foreach (var line in lines)
        {
            if (line.Length == 0 || line.StartsWith('#') || line.StartsWith(';'))
            {
                continue;
            }

            var (key, value) = SplitVariable(line) ?? throw new UsageException($"environment variable must be specified as name=value (file \"{path}\")");
            if (fileEnvironment.Exists(p => p.Key == key))
            {
                throw new UsageException($"environment variable \"{UntrustedText.Printable(key)}\" already set (file \"{path}\")");
            }

            fileEnvironment.Add(new(key, value));
        }
    }

    private void Stage1(string flag, string value)
    {
        if (stage1Flag is not null)
        {
            throw new UsageException(stage1Flag == flag
                ? $"{flag} already used"
                : $"flags {flag} and {stage1Flag} are mutually exclusive");
        }

        stage1Flag = flag;
        if (flag == "--stage1-hash")
        {
            throw new UsageException($"{flag}={value}: kubefly has one stage, its built-in fly; a hash cannot name it (drop the flag or use --stage1-name=coreos.com/rkt/stage1-fly)");
        }

        if (!value.Contains("stage1-fly", StringComparison.OrdinalIgnoreCase))
        {
            throw new UsageException($"{flag}={value}: kubefly only runs its built-in fly stage (give a stage1-fly image, e.g. stage1-fly.aci, or drop the flag)");
        }
    }

    private IReadOnlyList<string>? ParseDns()
    {
        if (dnsFlags.Count == 0)
        {
            return null;
        }

        var servers = new List<string>();
        foreach (var flag in dnsFlags)
        {
            if (flag is "host" or "none")
            {
                return dnsFlags.Count > 1
                    ? throw new UsageException($"no other --dns options allowed when --dns={flag} is passed")
                    : [flag];
            }

            foreach (var server in flag.Split(','))
            {
                servers.Add(IPAddress.TryParse(server, out _) && !server.Contains('%', StringComparison.Ordinal)
                    ? server
                    : throw new UsageException($"Invalid IP passed to --dns: {server}"));
            }
        }

        return servers;
    }

    private List<string> ParseHostsEntries()
    {
        var entries = new List<string>();
        var host = false;
        foreach (var flag in hostsFlags)
        {
            if (flag == "host")
            {
                host = true;
                continue;
            }

            foreach (var entry in flag.Split(','))
            {
                var split = entry.IndexOf('=', StringComparison.Ordinal);
                if (split < 0)
                {
                    throw new UsageException($"Did not understand --hosts-entry {entry}");
                }

                if (!IPAddress.TryParse(entry[..split], out _))
                {
                    throw new UsageException($"Invalid IP passed to --hosts-entry: {entry[..split]}");
                }

                entries.Add(entry);
            }
        }

        if (host)
        {
            return entries.Count > 0 ? throw new UsageException("cannot pass --hosts-entry=host with multiple hosts-entries") : ["host"];
        }

        return entries;
    }

    private static void Set(List<KeyValuePair<string, string>> list, string key, string value)
    {
        var existing = list.FindIndex(p => p.Key == key);
        if (existing >= 0)
        {
            list[existing] = new(key, value);
        }
        else
        {
            list.Add(new(key, value));
        }
    }

    private static bool Bool(string name, string? inline)
    {
        if (inline is null)
        {
            return true;
        }

        return VolumeSpecBool(name, inline);
    }

    private static bool VolumeSpecBool(string name, string value)
    {
        try
        {
            return VolumeSpec.ParseGoBool(value);
        }
        catch (FormatException)
        {
            throw new UsageException($"invalid argument \"{value}\" for \"{name}\" flag: expected true or false");
        }
    }

    private sealed class AppBuilder(string image)
    {
        public string? Name { get; set; }

        public string? Exec { get; set; }

        public string? User { get; set; }

        public string? Group { get; set; }

        public string? WorkingDirectory { get; set; }

        public List<KeyValuePair<string, string>> Environment { get; } = [];

        public List<MountSpec> Mounts { get; } = [];

        public List<string>? Arguments { get; set; }

        public AppArguments Build() => new()
        {
            Image = image,
            Name = Name,
            Exec = Exec,
            User = User,
            Group = Group,
            WorkingDirectory = WorkingDirectory,
            Environment = Environment,
            Mounts = Mounts,
            Arguments = Arguments,
        };
    }
}

/// <summary>Lets the caller take global flags (--dir, --insecure-options, ...) wherever run's own flags may appear.</summary>
/// <returns>True when tokens[index] (and its value; index then points at the last token used) was a global flag.</returns>
public delegate bool GlobalFlagConsumer(IReadOnlyList<string> tokens, ref int index);
