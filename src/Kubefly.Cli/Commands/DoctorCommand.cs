using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Kubefly.Images;
using Kubefly.Images.Registry;
using Kubefly.Images.Store;
using Kubefly.Linux;
using Kubefly.Oci;
using Kubefly.Trust.Policy;
using Kubefly.Trust.Signatures;
using Kubefly.Wrappers;

namespace Kubefly.Cli.Commands;

/// <summary>
/// `kubefly doctor`: whether this node can run what its units ask, one line per check, each failure with
/// its fix. Every check runs (a failed one does not hide the next), and one that cannot run says so.
/// </summary>
internal static class DoctorCommand
{
    private const long MinimumFreeBytes = 2L << 30;
    private static readonly TimeSpan RegistryTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan AllowedClockSkew = TimeSpan.FromMinutes(5);

    public static Command Create(GlobalOptionSet globals)
    {
        var format = new Option<string?>("--format") { Description = "json or json-pretty" };
        var offline = new Option<bool>("--offline") { Description = "skip the checks that talk to registries" };
        var wrapper = new Option<string?>("--wrapper") { Description = "also check a wrapper (kubelet, etcd, flannel) with this environment: that it resolves to a command line, and that its image is in the store or its registry has it" };
        var command = new Command("doctor", "check that this node can run kubefly's pods and reach its registries; exit 1 when a check fails") { format, offline, wrapper };
        command.SetAction(result =>
        {
            var json = result.GetValue(format);
            if (json is not (null or "json" or "json-pretty"))
            {
                throw new UsageException($"invalid --format \"{json}\": expected json or json-pretty");
            }

            var options = globals.Read(result);
            var checks = new List<DoctorCheck>();
            Run(checks, "kernel: openat2", CheckOpenat2);
            Run(checks, "kernel: overlay filesystem", CheckOverlay);
            Run(checks, "cgroups", CheckCgroups);
            Run(checks, "mount propagation of /", () => CheckPropagation("/"));
            if (Directory.Exists("/var/lib/kubelet"))
            {
                Run(checks, "mount propagation of /var/lib/kubelet", () => CheckPropagation("/var/lib/kubelet"));
            }

            Run(checks, $"state directory {options.Dir}", () => CheckStateDirectory(options.Dir));
            Run(checks, "free space", () => CheckFreeSpace(options.Dir));
            Run(checks, "transient pods", CheckTransientPods);
            RegistriesConf? registries = null;
            Run(checks, "registries.conf", () =>
            {
                registries = RegistriesConf.Load();
                var summary = $"{registries.Source}: {registries.Registries.Count} registr{(registries.Registries.Count == 1 ? "y" : "ies")} configured";

                // podman searches these for a short name; kubefly, like docker and rkt, takes docker.io.
                return registries.UnqualifiedSearchRegistries.Count > 0 && registries.UnqualifiedSearchRegistries[0] != "docker.io"
                    ? Warn($"{summary}; unqualified-search-registries starts with {UntrustedText.Printable(registries.UnqualifiedSearchRegistries[0])}, but kubefly resolves a short name such as \"busybox\" to docker.io",
                        "write full image references in units (host/namespace/name:tag) so every tool on the node pulls the same image")
                    : Ok(summary);
            });
            Run(checks, "trust policy", () => CheckPolicy(options.Policy));
            Run(checks, "registries.d", () =>
            {
                RegistriesD.LoadDefault(null);
                return Ok("parses (or there is none)");
            });
            Run(checks, "registry credentials", () =>
            {
                var store = CredentialStore.FromEnvironment();
                return Ok(store.Files.Count == 0 ? "no credential files (anonymous pulls only)" : $"read {string.Join(", ", store.Files)}");
            });
            if (!result.GetValue(offline) && registries is not null)
            {
                foreach (var (host, insecure) in Hosts(registries))
                {
                    Run(checks, $"registry {host}", () => CheckRegistry(host, insecure));
                }
            }

            if (result.GetValue(wrapper) is { } wrapperName)
            {
                Run(checks, $"wrapper {wrapperName}", () => CheckWrapper(wrapperName, options, result.GetValue(offline)));
            }

            Print(checks, json);
            return checks.Any(c => c.Status == "fail") ? 1 : ExitCodes.Success;
        });
        return command;
    }

    private static void Run(List<DoctorCheck> checks, string name, Func<DoctorCheck> check)
    {
        try
        {
            checks.Add(check() with { Name = name });
        }
        catch (Exception e) when (e is KubeflyException or IOException or UnauthorizedAccessException or SyscallException or HttpRequestException or TaskCanceledException)
        {
            checks.Add(new DoctorCheck { Name = name, Status = "fail", Detail = ExitCodes.Describe(e), Fix = "see the message; fix the file or setting it names" });
        }
    }

    private static DoctorCheck Ok(string detail) => new() { Status = "ok", Detail = detail };

    private static DoctorCheck Warn(string detail, string fix) => new() { Status = "warn", Detail = detail, Fix = fix };

    private static DoctorCheck Fail(string detail, string fix) => new() { Status = "fail", Detail = detail, Fix = fix };

    private static DoctorCheck CheckOpenat2()
    {
        var errno = Interop.TryOpenat2(AtCwd.Handle, "/", Interop.O_RDONLY | Interop.O_DIRECTORY, 0, Interop.RESOLVE_IN_ROOT, out var handle);
        handle.Dispose();
        return errno == 0
            ? Ok("openat2(2) with RESOLVE_IN_ROOT works: layers are unpacked confined to their rootfs")
            : Fail($"openat2(2) failed ({errno})", "kubefly needs Linux 5.6 or later (openat2); upgrade the kernel");
    }

    private static DoctorCheck CheckOverlay()
    {
        var filesystems = File.ReadAllText("/proc/filesystems");
        if (!filesystems.Split('\n').Any(l => l.EndsWith("\toverlay", StringComparison.Ordinal)))
        {
            return Fail("overlay is not in /proc/filesystems", "load it: modprobe overlay (and add it to /etc/modules-load.d)");
        }

        // A pod's overlay is mounted with index=off (layers are shared read-only, never exported) and
        // volatile (its upper dir dies with the pod), which needs Linux 5.10.
        var release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        var numbers = release.Split('.', '-');
        if (numbers.Length >= 2 && int.TryParse(numbers[0], out var major) && int.TryParse(numbers[1], out var minor) && (major, minor).CompareTo((5, 10)) < 0)
        {
            return Fail($"Linux {release}: overlay's volatile option needs 5.10", "upgrade the kernel to 5.10 or later");
        }

        var metacopy = ReadParameter("/sys/module/overlay/parameters/metacopy");
        return metacopy == "Y"
            ? Warn($"overlay is available (Linux {release}), with metacopy on by default", "kubefly does not need metacopy; if pods fail to start, boot with overlay.metacopy=N")
            : Ok($"overlay is available (Linux {release}; kubefly mounts pods with index=off,volatile)");
    }

    /// <summary>
    /// What the wrapper would run, composed as it composes it (no directory is created), and whether that
    /// image can start: in the store, or (online) its manifest answers in its registry.
    /// </summary>
    private static DoctorCheck CheckWrapper(string name, GlobalOptions globals, bool offline)
    {
        var profile = WrapperProfiles.Find(name) ?? throw new UsageException($"--wrapper={UntrustedText.Printable(name)}: expected one of {string.Join(", ", WrapperProfiles.All.Select(p => p.Name))}");
        var invocation = WrapperComposer.Compose(profile, ProcessEnvironment.Snapshot(), [], HostView.Current);
        var argv = invocation.Argv;
        var runAt = argv.ToList().IndexOf("run");
        var engine = globals;
        for (var index = 1; index < runAt; index++)
        {
            engine = engine.TryConsume(argv, ref index) ?? engine;
        }

        var run = RunArgumentsParser.Parse(argv.Skip(runAt + 1).ToList(), (IReadOnlyList<string> tokens, ref int index) =>
        {
            var updated = engine.TryConsume(tokens, ref index);
            engine = updated ?? engine;
            return updated is not null;
        });
        var image = run.App.Image;
        var services = new ImageServices(engine, SilentProgress.Instance);
        if (services.Store.Find(image) is { } stored)
        {
            return Ok($"{profile.ProgramName} runs {image}, in the store as {stored.ManifestDigest}");
        }

        if (offline || !ImageReference.TryParse(image, out var reference, out _) || reference.Transport != ImageTransport.Docker)
        {
            return Warn($"{profile.ProgramName} runs {image}, which is not in the store", $"fetch it ahead: kubefly fetch {image}");
        }

        using var source = services.OpenRegistrySource(reference);
        var manifest = source.GetManifestAsync(null, CancellationToken.None).GetAwaiter().GetResult();
        return Ok($"{profile.ProgramName} runs {image}: not in the store; its registry has it ({manifest.Digest})");
    }

    private static string? ReadParameter(string path) => File.Exists(path) ? File.ReadAllText(path).Trim() : null;

    private const ulong MinimumFreeInodes = 100_000;

    private static DoctorCheck CheckCgroups() =>
        File.Exists("/sys/fs/cgroup/cgroup.controllers")
            ? Ok("cgroup v2 (unified hierarchy)")
            : Warn("cgroup v1 or hybrid hierarchy", "current kubelets and systemd prefer cgroup v2: boot with systemd.unified_cgroup_hierarchy=1");

    private static DoctorCheck CheckPropagation(string path)
    {
        var fields = File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')).Where(f => f.Length > 6 && (path == f[4] || path.StartsWith(f[4].TrimEnd('/') + "/", StringComparison.Ordinal))).MaxBy(f => f[4].Length);
        if (fields is null)
        {
            return Warn($"{path} is on no mount listed in /proc/self/mountinfo", "check the mount table");
        }

        var shared = fields.Skip(6).TakeWhile(f => f != "-").Any(f => f.StartsWith("shared:", StringComparison.Ordinal));
        return shared
            ? Ok($"{path} is on a shared mount ({fields[4]}): mounts the kubelet makes under host volumes reach the host")
            : Warn($"{path} is on a private mount ({fields[4]}): mounts made inside pods will not reach the host", $"mount --make-rshared {fields[4]} (systemd makes / shared at boot)");
    }

    private static DoctorCheck CheckStateDirectory(string dir)
    {
        foreach (var path in new[] { dir, Path.Combine(dir, "images"), Path.Combine(dir, "pods"), Path.Combine(dir, "import") })
        {
            StateDirectory.Check(path);
        }

        // Transient pods' runtime directory in /run: checked the same way, and it must name this state directory.
        _ = RuntimeDirectory.Existing(dir);
        return Directory.Exists(dir) ? Ok("owned by root, not writable by group or others") : Ok("does not exist yet (it is created on first use)");
    }

    // `run --transient-pods` needs RuntimeDirectory.Base on a tmpfs (docs/adr/0015-transient-pods.md).
    private static DoctorCheck CheckTransientPods()
    {
        var existing = RuntimeDirectory.Base;
        while (!Directory.Exists(existing))
        {
            existing = Path.GetDirectoryName(existing) ?? "/";
        }

        return Interop.IsInMemoryFileSystem(existing)
            ? Ok($"{RuntimeDirectory.Base} is on a tmpfs: `run --transient-pods` keeps pods there, and the reboot ends them")
            : Warn($"{RuntimeDirectory.Base} is on a disk, so `run --transient-pods` is refused (pods on the state disk are not affected)",
                $"mount -t tmpfs -o mode=0755,size=10% kubefly-run {RuntimeDirectory.Base}, or mount /run as a tmpfs, as systemd does at boot");
    }

    private static DoctorCheck CheckFreeSpace(string dir)
    {
        var existing = dir;
        while (!Directory.Exists(existing))
        {
            existing = Path.GetDirectoryName(existing) ?? "/";
        }

        var drive = new DriveInfo(existing);
        var free = drive.AvailableFreeSpace;
        var text = $"{free / (1 << 20)} MiB free for {existing}";
        if (Interop.TryGetInodes(existing, out var inodes, out var freeInodes) == 0 && inodes > 0)
        {
            // Filesystems without a fixed inode table (btrfs, xfs with imaxpct) report their own counts; 0 means none.
            text += $", {freeInodes} of {inodes} inodes free";
            if (freeInodes < MinimumFreeInodes)
            {
                return Warn(text, $"free at least {MinimumFreeInodes} inodes: every file of every layer takes one; `kubefly image gc` removes unused layers");
            }
        }

        return free >= MinimumFreeBytes ? Ok(text) : Warn(text, $"free at least {MinimumFreeBytes >> 30} GiB: `kubefly image gc` and `kubefly gc` remove what no pod uses");
    }

    private static DoctorCheck CheckPolicy(string? explicitPath)
    {
        var (path, _) = TrustPolicy.Locate(explicitPath);
        if (!File.Exists(path))
        {
            return Warn($"no policy at {path}: nothing is verified and docker images need --insecure-options=image", "install one: kubefly trust set --type=sigstoreSigned --key=FILE SCOPE");
        }

        var policy = TrustPolicy.Load(path);
        return policy.Default.All(r => r is InsecureAcceptAnything) && policy.Transports.Values.SelectMany(s => s.Values).SelectMany(r => r).All(r => r is InsecureAcceptAnything)
            ? Warn($"{path} parses, and accepts every image without a signature", "require signatures for the images units run: kubefly trust set --type=sigstoreSigned --key=FILE SCOPE")
            : Ok($"{path} parses");
    }

    private static IEnumerable<(string Host, bool Insecure)> Hosts(RegistriesConf registries)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in registries.Registries.Where(r => !r.Blocked))
        {
            foreach (var (location, insecure) in entry.Mirrors.Select(m => (m.Location, m.Insecure)).Append((entry.Location, entry.Insecure)))
            {
                var host = location.Split('/')[0];
                if (host.Length > 0 && !host.StartsWith('*') && seen.Add(host))
                {
                    yield return (host, insecure);
                }
            }
        }
    }

    private static DoctorCheck CheckRegistry(string host, bool insecure)
    {
        using var http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = RegistryTimeout, AllowAutoRedirect = false }) { Timeout = RegistryTimeout };
        HttpResponseMessage? response = null;
        var scheme = "https";
        try
        {
            response = http.GetAsync(new Uri($"https://{host}/v2/")).GetAwaiter().GetResult();
        }
        catch (HttpRequestException) when (insecure)
        {
            scheme = "http";
            response = http.GetAsync(new Uri($"http://{host}/v2/")).GetAwaiter().GetResult();
        }

        using (response)
        {
            if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.Unauthorized))
            {
                return Fail($"{scheme}://{host}/v2/ answered {(int)response.StatusCode} {response.ReasonPhrase}", "check the registry's address in registries.conf");
            }

            if (response.Headers.Date is { } date && (date - DateTimeOffset.UtcNow).Duration() > AllowedClockSkew)
            {
                return Warn($"reachable over {scheme}, but its clock differs from this node's by {(date - DateTimeOffset.UtcNow).Duration().TotalMinutes.ToString("0", CultureInfo.InvariantCulture)} minutes", "sync the clock (systemd-timesyncd or chrony): tokens and signatures expire");
            }

            return Ok($"reachable over {scheme} (GET /v2/: {(int)response.StatusCode})");
        }
    }

    private static void Print(List<DoctorCheck> checks, string? json)
    {
        if (json is not null)
        {
            var context = CliJsonContext.For(json);
            Console.Out.WriteLine(JsonSerializer.Serialize(checks, context.ListDoctorCheck));
            return;
        }

        foreach (var check in checks)
        {
            Console.Out.WriteLine($"{check.Status,-4}  {check.Name}: {check.Detail}{(check.Fix is { } fix && check.Status != "ok" ? $"\n      fix: {fix}" : string.Empty)}");
        }
    }
}
