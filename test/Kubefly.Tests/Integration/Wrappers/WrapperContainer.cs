using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Systemd;

namespace Kubefly.Tests.Integration.Wrappers;

/// <summary>One engine call the stand-in rkt recorded: its argv and (for run) its environment.</summary>
public sealed record RecordedEngineCall(IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string> Environment)
{
    public string Command => Arguments.Count > 0 ? Arguments[0] : string.Empty;
}

/// <summary>
/// A booted systemd with kubefly installed the way `make install-compat` installs it (the wrapper
/// names under /usr/lib/coreos) and a recording stand-in at /usr/bin/rkt, so the seed's units run
/// unchanged while the engine is still being built: what the wrapper hands to rkt is recorded, and
/// `run` becomes the unit's main process (sleep) through the same exec chain.
/// </summary>
public class WrapperContainer : IDisposable
{
    public const string CallsDirectory = "/run/rkt-calls";

    private const string RecordingRkt = """
        #!/bin/sh
        # Stand-in for /usr/bin/rkt: records argv (NUL-separated) and, for run, the environment.
        mkdir -p /run/rkt-calls
        call=/run/rkt-calls/$(date +%s%N)-$$
        printf '%s\0' "$@" > "$call.args"
        case "$1" in
          run)
            env -0 > "$call.env"
            for arg in "$@"; do
              case "$arg" in --uuid-file-save=*) printf 'stub-pod-uuid' > "${arg#--uuid-file-save=}" ;; esac
            done
            if [ -n "$NOTIFY_SOCKET" ] && [ -n "$RKT_STUB_NOTIFY" ]; then systemd-notify --ready; fi
            exec sleep 1000
            ;;
        esac
        exit 0
        """;

    public WrapperContainer()
        : this(realEngine: false)
    {
    }

    /// <summary>
    /// With <paramref name="realEngine"/>, /usr/bin/rkt is kubefly itself (as `make install-compat`
    /// makes it) and the kubefly state directory is a host directory bound in (the fly stage's overlay
    /// cannot use the container's own overlay root as its upper layer).
    /// </summary>
    protected WrapperContainer(bool realEngine)
    {
        var binaryDirectory = Path.GetDirectoryName(KubeflyProcess.BinaryPath)!;
        var binds = new List<ContainerBind> { new(binaryDirectory, "/opt/kubefly") };
        if (realEngine)
        {
            StateDirectory = Directory.CreateTempSubdirectory("kubefly-engine-state-").FullName;
            binds.Add(new ContainerBind(StateDirectory, "/var/lib/kubefly", ReadOnly: false));
        }

        Container = SystemdContainer.Boot(binds);
        try
        {
            if (realEngine)
            {
                Container.Shell("ln -sf /opt/kubefly/kubefly /usr/bin/rkt");
            }
            else
            {
                Container.WriteFile("/usr/bin/rkt", RecordingRkt);
                Container.Shell("chmod 0755 /usr/bin/rkt");
            }

            Container.Shell("""
                mkdir -p /usr/lib/coreos /opt/bin
                for name in kubelet-wrapper etcd-wrapper flannel-wrapper; do ln -sf /opt/kubefly/kubefly /usr/lib/coreos/$name; done
                ln -sf /opt/kubefly/kubefly /opt/bin/kubelet-wrapper
                ln -sf /opt/kubefly/kubefly /usr/local/bin/kubefly
                useradd --system --no-create-home --home-dir /var/lib/etcd etcd
                """);
        }
        catch
        {
            Container.Dispose();
            throw;
        }
    }

    public SystemdContainer Container { get; }

    /// <summary>The host directory holding the engine's state (real engine only).</summary>
    public string? StateDirectory { get; }

    /// <summary>Installs a unit file and reloads systemd.</summary>
    public void InstallUnit(string name, string text)
    {
        Container.WriteFile($"/etc/systemd/system/{name}", text);
        Container.Shell("systemctl daemon-reload");
    }

    /// <summary>Where the current test's journal starts (set by <see cref="Reset"/>).</summary>
    public string? Cursor { get; private set; }

    /// <summary>Removes what a previous test left: stopped units, recorded calls; the journal is read from here on.</summary>
    public void Reset(string unit)
    {
        Container.Systemctl("stop", unit);
        Container.Systemctl("reset-failed", unit);
        Container.Shell($"rm -rf {CallsDirectory}");
        Cursor = Container.JournalCursor();
    }

    /// <summary>The unit's journal since the last <see cref="Reset"/>.</summary>
    public string Journal(string unit) => Container.Journal(unit, Cursor);

    public string WaitForJournal(string unit, string expected) => Container.WaitForJournal(unit, expected, Cursor);

    /// <summary>The engine calls recorded so far, oldest first.</summary>
    public IReadOnlyList<RecordedEngineCall> Calls()
    {
        var listing = Container.Exec("/bin/sh", "-c", $"ls {CallsDirectory}/*.args 2>/dev/null | sort").StandardOutput;
        var calls = new List<RecordedEngineCall>();
        foreach (var file in listing.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var arguments = SplitNul(Container.Exec("cat", file).StandardOutput);
            var environmentFile = file[..^".args".Length] + ".env";
            var environment = SplitNul(Container.Exec("/bin/sh", "-c", $"cat {environmentFile} 2>/dev/null || true").StandardOutput)
                .Select(line => line.Split('=', 2))
                .Where(pair => pair.Length == 2)
                .GroupBy(pair => pair[0], StringComparer.Ordinal)
                .ToDictionary(group => group.Key, group => group.Last()[1], StringComparer.Ordinal);
            calls.Add(new RecordedEngineCall(arguments, environment));
        }

        return calls;
    }

    /// <summary>
    /// The `run` call, once the unit's main process has become the stand-in's sleep (systemd reports
    /// a simple service started before its process got that far).
    /// </summary>
    public RecordedEngineCall WaitForRunCall(string unit)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var pid = MainPid(unit);
            if (pid != "0" && Container.Exec("cat", $"/proc/{pid}/comm").StandardOutput.Trim() == "sleep")
            {
                return Calls().Single(call => call.Command == "run");
            }

            Thread.Sleep(50);
        }

        throw new TimeoutException($"{unit} never reached the engine's run\n{Journal(unit)}");
    }

    public string MainPid(string unit) => Container.Systemctl("show", "-p", "MainPID", "--value", unit).StandardOutput.Trim();

    /// <summary>Waits for a unit to reach a state (failed units get there after their process exits).</summary>
    public string WaitForState(string unit, string state)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var current = string.Empty;
        while (DateTime.UtcNow < deadline)
        {
            current = Container.Systemctl("is-active", unit).StandardOutput.Trim();
            if (current == state)
            {
                break;
            }

            Thread.Sleep(50);
        }

        return current;
    }

    /// <summary>Mount points of the container's own mount namespace (its PID 1), one per line as mountinfo lists them.</summary>
    public IReadOnlyList<string> MountPoints() =>
        Container.Shell("cut -d' ' -f5 /proc/1/mountinfo").Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
        {
            return;
        }

        Container.Dispose();
        if (StateDirectory is not null)
        {
            Directory.Delete(StateDirectory, recursive: true);
        }
    }

    private static List<string> SplitNul(string text)
    {
        var parts = text.Split('\0').ToList();
        if (parts.Count > 0 && parts[^1].Length == 0)
        {
            parts.RemoveAt(parts.Count - 1);
        }

        return parts;
    }
}
