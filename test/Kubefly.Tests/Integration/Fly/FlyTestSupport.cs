using System.Diagnostics;
using System.Text.Json;
using Kubefly.Fly;
using Kubefly.FlyHarness;
using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Integration.Fly;

/// <summary>
/// A busybox image layer built from Debian's busybox-static (cached between runs): /bin/busybox, a symlink
/// per applet, /etc/passwd and /etc/group with root, user (1000) and groups wheel (10, member user)
/// and staff (50), and /probe, a script reporting what the app sees.
/// </summary>
public static class BusyboxLayer
{
    public const string ProbeScript = """
        #!/bin/sh
        echo "argv: $0 $*"
        echo "pid: $$"
        echo "--- environ"
        tr '\000' '\n' < /proc/$$/environ
        echo "--- id"
        id
        echo "--- fds"
        # Not "ls | sed": the shell holds that pipeline's pipe while ls lists the shell's descriptors. And
        # not "ls > file": busybox runs ls in-process, with the redirection (and a saved stdout) in the shell.
        # A subshell forks; its $$ is still this shell's.
        (exec ls -l /proc/$$/fd > /tmp/.probe-fds)
        sed -n 's/.* \([0-9]*\) -> \(.*\)/\1 \2/p' /tmp/.probe-fds
        echo "--- status"
        grep -E '^Sig(Ign|Blk):' /proc/self/status
        echo "--- mountinfo"
        cat /proc/$$/mountinfo
        echo "--- end"
        """;

    private static readonly Lazy<string> Layer = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Path => Layer.Value;

    /// <summary>
    /// Built once into a cache directory named after the probe's hash (reused by later runs, rebuilt
    /// when the probe changes), in a staging directory renamed into place so parallel runs never see half.
    /// </summary>
    private static string Build()
    {
        var version = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(ProbeScript)))[..12].ToLowerInvariant();
        var root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"kubefly-fly-busybox-{version}");
        var layer = System.IO.Path.Combine(root, "layer");
        if (File.Exists(System.IO.Path.Combine(layer, "probe")))
        {
            return layer;
        }

        var staging = $"{root}.staging-{Guid.NewGuid():N}";
        var staged = System.IO.Path.Combine(staging, "layer");
        BusyboxRootfs.WriteTo(staged);
        File.WriteAllText(System.IO.Path.Combine(staged, "probe"), ProbeScript.ReplaceLineEndings("\n") + "\n");
        ProgramRunner.Shell($"chmod 0755 {staged}/probe");
        try
        {
            Directory.Move(staging, root);
        }
        catch (IOException)
        {
            // Another test run built it first.
            Directory.Delete(staging, recursive: true);
        }

        return layer;
    }
}

/// <summary>
/// One pod's host side: a fresh directory made a shared mount point (as systemd makes "/"), so any
/// mount that leaked out of the pod would show in the host's mount table. Holds the pod dir, overlay
/// dirs, volumes and extra layers; on dispose kills what it started and unmounts everything under it.
/// </summary>
public sealed class FlyWorkspace : IDisposable
{
    private readonly List<Process> _processes = [];

    public FlyWorkspace()
    {
        Root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kubefly-fly-" + Guid.NewGuid().ToString("N")[..12]);
        foreach (var dir in new[] { "pod", "upper", "work", "rootfs", "volumes", "layers" })
        {
            Directory.CreateDirectory(System.IO.Path.Combine(Root, dir));
        }

        ProgramRunner.Shell($"mount --bind {Root} {Root} && mount --make-shared {Root}");
    }

    public string Root { get; }

    public string PodDirectory => Combine("pod");

    public string RootfsDirectory => Combine("rootfs");

    public string UpperDirectory => Combine("upper");

    public string Combine(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>A directory on the host for a volume source.</summary>
    public string Volume(string name)
    {
        var path = Combine("volumes", name);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>A directory made a shared mount point of its own (what kubelet needs for /var/lib/kubelet).</summary>
    public string SharedVolume(string name)
    {
        var path = Volume(name);
        ProgramRunner.Shell($"mount --bind {path} {path} && mount --make-shared {path}");
        return path;
    }

    /// <summary>An extra image layer (above busybox) filled by a shell script run in it.</summary>
    public string Layer(string name, string script)
    {
        var path = Combine("layers", name);
        Directory.CreateDirectory(path);
        ProgramRunner.Shell($"cd {path} && {script}");
        return path;
    }

    public FlyPlan Plan(params string[] arguments) => new()
    {
        PodDirectory = PodDirectory,
        LowerDirectories = [BusyboxLayer.Path],
        UpperDirectory = UpperDirectory,
        WorkDirectory = Combine("work"),
        RootfsDirectory = RootfsDirectory,
        Arguments = arguments,
        Environment = ["PATH=/bin", "KUBEFLY_TEST=1"],
    };

    /// <summary>Runs the plan through the harness to completion.</summary>
    public ProcessResult Run(FlyPlan plan) =>
        ProgramRunner.Run(FlyHarnessProcess.DotnetPath, [FlyHarnessProcess.HarnessPath, WritePlan(plan)], timeout: TimeSpan.FromMinutes(2));

    /// <summary>Runs the harness from a bash command line (to set up descriptors first); PLAN is the plan's path.</summary>
    public ProcessResult RunThroughShell(FlyPlan plan, string scriptUsingPlan) =>
        ProgramRunner.Run("/bin/bash", ["-c", scriptUsingPlan.Replace("PLAN", $"{FlyHarnessProcess.DotnetPath} {FlyHarnessProcess.HarnessPath} {WritePlan(plan)}", StringComparison.Ordinal)], timeout: TimeSpan.FromMinutes(2));

    /// <summary>Starts a long-running pod; wait for <paramref name="readyFileOnHost"/> to appear.</summary>
    public Process Start(FlyPlan plan, string readyFileOnHost)
    {
        var info = new ProcessStartInfo(FlyHarnessProcess.DotnetPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(FlyHarnessProcess.HarnessPath);
        info.ArgumentList.Add(WritePlan(plan));
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the harness");
        _processes.Add(process);
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        var deadline = Stopwatch.StartNew();
        while (!File.Exists(readyFileOnHost))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"pod exited {process.ExitCode} before it was ready: {stderr.GetAwaiter().GetResult()}");
            }

            if (deadline.Elapsed > TimeSpan.FromMinutes(1))
            {
                throw new TimeoutException($"pod never wrote {readyFileOnHost}");
            }

            Thread.Sleep(20);
        }

        return process;
    }

    public static int Stop(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill();
        }

        process.WaitForExit();
        return process.ExitCode;
    }

    /// <summary>Host mount table entries at or under this workspace, except the workspace's own bind.</summary>
    public IReadOnlyList<MountInfoEntry> HostMountsInside() =>
        HostMountTable.Read().Where(e => e.MountPoint.StartsWith(Root + "/", StringComparison.Ordinal)).ToList();

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            try
            {
                Stop(process);
            }
            catch (InvalidOperationException)
            {
            }

            process.Dispose();
        }

        // Deepest first; lazily, so nothing a failed test left can keep the host busy.
        foreach (var entry in HostMountTable.Read().Where(e => MountPlanner.IsAtOrUnder(e.MountPoint, Root)).OrderByDescending(e => e.MountPoint.Length))
        {
            ProgramRunner.Run("/bin/umount", ["-l", entry.MountPoint]);
        }

        ProgramRunner.Run("/bin/rm", ["-rf", "--one-file-system", Root]);
    }

    private string WritePlan(FlyPlan plan)
    {
        var path = Combine($"plan-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, JsonSerializer.Serialize(plan, HarnessJson.Default.FlyPlan));
        return path;
    }
}

public static class HostMountTable
{
    public static IReadOnlyList<MountInfoEntry> Read() => MountInfo.Parse(File.ReadAllText("/proc/self/mountinfo"));

    /// <summary>The mount table of a running process, paths as that process sees them (inside its root).</summary>
    public static IReadOnlyList<MountInfoEntry> OfProcess(int pid) => MountInfo.Parse(File.ReadAllText($"/proc/{pid}/mountinfo"));
}

public static class FlyHarnessProcess
{
    public static string HarnessPath { get; } = System.IO.Path.Combine(AppContext.BaseDirectory, "Kubefly.FlyHarness.dll");

    public static string DotnetPath { get; } =
        Environment.ProcessPath is { } path && System.IO.Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
}

/// <summary>Splits the probe's report into its sections.</summary>
public sealed class ProbeReport
{
    private readonly Dictionary<string, List<string>> _sections = [];

    public ProbeReport(string output)
    {
        var current = "head";
        _sections[current] = [];
        foreach (var line in output.Split('\n'))
        {
            if (line.StartsWith("--- ", StringComparison.Ordinal))
            {
                current = line[4..];
                _sections[current] = [];
            }
            else if (line.Length > 0)
            {
                _sections[current].Add(line);
            }
        }
    }

    public IReadOnlyList<string> this[string section] => _sections.TryGetValue(section, out var lines) ? lines : [];

    public IReadOnlyList<MountInfoEntry> Mounts => this["mountinfo"].Select(MountInfo.ParseLine).ToList();
}
