using System.Diagnostics;
using System.Globalization;

namespace Kubefly.Tests.Infrastructure.Systemd;

/// <summary>A host directory to bind into the container at boot.</summary>
public sealed record ContainerBind(string HostPath, string ContainerPath, bool ReadOnly = true);

/// <summary>
/// A real systemd booted in a container (systemd-nspawn over the cached Debian rootfs, with a
/// throw-away overlay), so units run exactly as systemd runs them: ExecStartPre '-', ExecStop,
/// Type=notify, the journal. See docs/testing.md, "A real systemd, booted in a container".
/// </summary>
public sealed class SystemdContainer : IDisposable
{
    /// <summary>Where <see cref="CopyIn"/> stages files inside the container (a bind of a private host dir).</summary>
    public const string ShareDirectory = "/run/kubefly-test-share";

    private const string SearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    private static readonly string[] CgroupHierarchies = ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"];
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(2);

    private readonly string _workDirectory;
    private readonly string _shareHostDirectory;
    private readonly string _cgroupName;
    private readonly Process _nspawn;
    private int _copies;
    private bool _disposed;

    private SystemdContainer(string workDirectory, string cgroupName, Process nspawn)
    {
        _workDirectory = workDirectory;
        _shareHostDirectory = Path.Combine(workDirectory, "share");
        _cgroupName = cgroupName;
        _nspawn = nspawn;
    }

    /// <summary>The container's PID 1 (systemd) as the host sees it.</summary>
    public int LeaderPid { get; private set; }

    /// <summary>The machine name given to nspawn (unique, so parallel containers never share nspawn's runtime paths).</summary>
    public string MachineName => _cgroupName;

    /// <summary>nspawn's console output (the boot log), for failure messages.</summary>
    public string ConsoleLog => File.Exists(ConsolePath) ? File.ReadAllText(ConsolePath) : string.Empty;

    private string ConsolePath => Path.Combine(_workDirectory, "console.log");

    /// <summary>Boots a container and waits until systemd reports running (or degraded).</summary>
    public static SystemdContainer Boot(IEnumerable<ContainerBind>? binds = null)
    {
        var rootfs = SystemdRootfs.Ensure();
        var id = Guid.NewGuid().ToString("N")[..12];
        var name = $"kubefly-test-{id}";
        var work = Directory.CreateTempSubdirectory("kubefly-systemd-").FullName;
        var share = Path.Combine(work, "share");
        Directory.CreateDirectory(share);

        // With --keep-unit and no systemd on the host, nspawn puts payload/ and supervisor/ cgroups under
        // its own cgroup and leaves them behind: give it a cgroup of its own, removed on dispose.
        foreach (var hierarchy in CgroupHierarchies)
        {
            Directory.CreateDirectory(Path.Combine(hierarchy, name));
        }

        var arguments = new List<string>
        {
            "-q", "-b", "-D", rootfs, $"--machine={name}", "--register=no", "--keep-unit", "--console=read-only", "--volatile=overlay",
            $"--bind={share}:{ShareDirectory}",
        };
        foreach (var bind in binds ?? [])
        {
            arguments.Add($"{(bind.ReadOnly ? "--bind-ro" : "--bind")}={bind.HostPath}:{bind.ContainerPath}");
        }

        var script = string.Join("; ", CgroupHierarchies.Select(h => $"echo $$ > {h}/{name}/cgroup.procs"))
            + $"; exec systemd-nspawn {string.Join(' ', arguments.Select(Kubefly.Wrappers.ShellWords.Quote))} >{Path.Combine(work, "console.log")} 2>&1 </dev/null";
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        var nspawn = Process.Start(start) ?? throw new InvalidOperationException("could not start systemd-nspawn");

        var container = new SystemdContainer(work, name, nspawn);
        try
        {
            container.LeaderPid = WaitForLeader(nspawn, container);
            container.WaitUntilRunning();
            return container;
        }
        catch
        {
            container.Dispose();
            throw;
        }
    }

    /// <summary>Runs a command inside the container (all its namespaces), with a clean environment.</summary>
    public ProcessResult Exec(IEnumerable<string> command, IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var arguments = new List<string> { "-t", LeaderPid.ToString(CultureInfo.InvariantCulture), "-a", "env", "-i", $"PATH={SearchPath}" };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            arguments.Add($"{key}={value}");
        }

        arguments.AddRange(command);
        return ProgramRunner.Run("nsenter", arguments, timeout: timeout ?? TimeSpan.FromMinutes(2));
    }

    public ProcessResult Exec(params string[] command) => Exec((IEnumerable<string>)command);

    /// <summary>Runs a shell script inside; throws with the output when it fails.</summary>
    public string Shell(string script)
    {
        var result = Exec("/bin/sh", "-ec", script);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"in container {MachineName}: {script}\n{result}");
        }

        return result.StandardOutput;
    }

    /// <summary>
    /// Copies a host file or directory to a path inside (parents created). The rootfs is nspawn's
    /// private overlay, so it goes through the shared bind and `cp -a` inside, never through host paths.
    /// </summary>
    public void CopyIn(string hostPath, string containerPath)
    {
        var staged = $"copy-{Interlocked.Increment(ref _copies)}";
        var result = ProgramRunner.Run("cp", ["-a", "--", hostPath, Path.Combine(_shareHostDirectory, staged)]);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"staging {hostPath} failed\n{result}");
        }

        Shell($"mkdir -p \"$(dirname '{containerPath}')\" && rm -rf '{containerPath}' && cp -a '{ShareDirectory}/{staged}' '{containerPath}' && rm -rf '{ShareDirectory}/{staged}'");
    }

    /// <summary>Writes text to a file inside the container.</summary>
    public void WriteFile(string containerPath, string text)
    {
        var staged = Path.Combine(_workDirectory, $"write-{Interlocked.Increment(ref _copies)}");
        File.WriteAllText(staged, text);
        CopyIn(staged, containerPath);
        File.Delete(staged);
    }

    /// <summary>The unit's journal for this boot, or only what came after <paramref name="afterCursor"/>.</summary>
    public string Journal(string unit, string? afterCursor = null) =>
        Exec(afterCursor is null
            ? ["journalctl", "--no-pager", "-b", "-u", unit]
            : ["journalctl", "--no-pager", "-b", "-u", unit, $"--after-cursor={afterCursor}"]).StandardOutput;

    /// <summary>A position in the journal now, so a test reads only the entries that follow it.</summary>
    public string JournalCursor()
    {
        // Log a marker first: an empty journal has no cursor to return.
        Exec("logger", "-t", "kubefly-test", $"cursor {Guid.NewGuid():N}");
        var output = Exec("journalctl", "--no-pager", "-n", "1", "--show-cursor", "-o", "cat").StandardOutput;
        const string prefix = "-- cursor: ";
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"journalctl gave no cursor: {output}");
        return line[prefix.Length..].Trim();
    }

    /// <summary>
    /// The unit's journal once it contains <paramref name="expected"/>: journald stores a service's
    /// output asynchronously, so a line can trail the state change that produced it. A process that
    /// exits within a millisecond or two of writing can be gone before journald looks up its cgroup; its
    /// lines are then stored without the unit (`journalctl -u` misses them), so after a cursor the whole
    /// journal is searched too.
    /// </summary>
    public string WaitForJournal(string unit, string expected, string? afterCursor = null, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        string journal;
        do
        {
            journal = Journal(unit, afterCursor);
            if (journal.Contains(expected, StringComparison.Ordinal))
            {
                return journal;
            }

            if (afterCursor is not null &&
                Exec("journalctl", "--no-pager", "-b", $"--after-cursor={afterCursor}").StandardOutput is var everything &&
                everything.Contains(expected, StringComparison.Ordinal))
            {
                return everything;
            }

            Thread.Sleep(100);
        }
        while (DateTime.UtcNow < deadline);

        return journal;
    }

    public ProcessResult Systemctl(params string[] arguments) => Exec(["systemctl", .. arguments]);

    /// <summary>Orderly halt (SIGTERM to nspawn), then the work dir and cgroups are removed.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_nspawn.HasExited)
        {
            ProgramRunner.Run("kill", ["-TERM", _nspawn.Id.ToString(CultureInfo.InvariantCulture)]);
            if (!_nspawn.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                _nspawn.Kill(entireProcessTree: true);
                _nspawn.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }

        _nspawn.Dispose();
        foreach (var hierarchy in CgroupHierarchies)
        {
            RemoveCgroupTree(Path.Combine(hierarchy, _cgroupName));
        }

        try
        {
            Directory.Delete(_workDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A bind still held by a dying process; the temp dir is left for the OS.
        }
    }

    private static int WaitForLeader(Process nspawn, SystemdContainer forLog)
    {
        var deadline = DateTime.UtcNow + BootTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (nspawn.HasExited)
            {
                throw new InvalidOperationException($"systemd-nspawn exited ({nspawn.ExitCode}) before booting\n{forLog.ConsoleLog}");
            }

            // The container's PID 1 is nspawn's direct child once the inner child runs systemd.
            var childrenFile = $"/proc/{nspawn.Id}/task/{nspawn.Id}/children";
            var children = File.Exists(childrenFile) ? File.ReadAllText(childrenFile).Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];
            foreach (var child in children)
            {
                var comm = ReadOrEmpty($"/proc/{child}/comm").Trim();
                if (comm == "systemd")
                {
                    return int.Parse(child, CultureInfo.InvariantCulture);
                }
            }

            Thread.Sleep(20);
        }

        throw new TimeoutException($"the container's systemd did not start\n{forLog.ConsoleLog}");
    }

    private void WaitUntilRunning()
    {
        var deadline = DateTime.UtcNow + BootTimeout;
        var state = string.Empty;
        while (DateTime.UtcNow < deadline)
        {
            state = Exec("systemctl", "is-system-running").StandardOutput.Trim();
            if (state is "running" or "degraded")
            {
                return;
            }

            Thread.Sleep(50);
        }

        throw new TimeoutException($"the container's systemd stayed \"{state}\"\n{ConsoleLog}");
    }

    private static void RemoveCgroupTree(string path)
    {
        if (!Directory.Exists(path))
        {
            return;
        }

        foreach (var child in Directory.GetDirectories(path))
        {
            RemoveCgroupTree(child);
        }

        // cgroupfs directories are removed with rmdir (their control files are not real files).
        for (var attempt = 0; attempt < 50; attempt++)
        {
            try
            {
                Directory.Delete(path);
                return;
            }
            catch (IOException)
            {
                Thread.Sleep(20);
            }
        }
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }
}
