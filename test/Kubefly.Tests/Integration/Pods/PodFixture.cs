using System.Diagnostics;
using Kubefly.Cli;
using Kubefly.Oci;
using Kubefly.Pods;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Unit.Pods;

namespace Kubefly.Tests.Integration.Pods;

/// <summary>
/// A kubefly data dir of its own with pods made by the real pod code. "Running" pods get a stand-in
/// for the exec'd app: a process that takes the pod lock on the pod directory, enters a mount namespace
/// of its own with a mount on the pod's rootfs dir (so its mount table shows the pod), writes pid and
/// mntns as the fly stage does, and execs the app (sleep by default), keeping the lock as the app would.
/// </summary>
public sealed class PodFixture : IDisposable
{
    private readonly BusyboxImageProvider images = new();
    private readonly List<Process> holders = [];

    public PodFixture()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("kubefly-pods-it-").FullName;
        Store = new PodStore(Directory);
    }

    public string Directory { get; }

    public PodStore Store { get; }

    /// <summary>A pod whose app has come and gone (in run/, lock free).</summary>
    public PodUuid Exited(string? uuidFile = null, bool started = true)
    {
        var launch = Prepare(uuidFile);
        var uuid = launch.Pod.Uuid;
        if (started)
        {
            File.WriteAllText(Path.Combine(launch.Plan.PodDirectory, PodPaths.Pid), "1234567");
        }

        launch.Pod.Dispose();
        return uuid;
    }

    /// <summary>A pod whose app is alive: a process in a session of its own holds the lock.</summary>
    public (PodUuid Uuid, Process App) Running(string? uuidFile = null, string pidFileContent = "$$", string app = "exec sleep 600", bool newSession = true)
    {
        var launch = Prepare(uuidFile);
        var path = launch.Plan.PodDirectory;
        launch.Pod.Dispose();
        var inside = $"mount -t tmpfs pod-standin '{path}/rootfs' && readlink /proc/self/ns/mnt > '{path}/mntns.tmp' && mv '{path}/mntns.tmp' '{path}/mntns' && echo {pidFileContent} > '{path}/pid.tmp' && mv '{path}/pid.tmp' '{path}/pid' && {app}";
        var script = $"exec 9<'{path}'; flock -x 9; exec unshare -m --propagation slave /bin/bash -c \"{inside.Replace("\"", "\\\"", StringComparison.Ordinal)}\"";
        var started = newSession ? Process.Start("/usr/bin/setsid", ["/bin/bash", "-c", script])! : Process.Start("/bin/bash", ["-c", script])!;
        holders.Add(started);
        Wait.Until(() => File.Exists(Path.Combine(path, PodPaths.Pid)) || started.HasExited, TimeSpan.FromSeconds(30), "the stand-in app to start");
        if (started.HasExited && !File.Exists(Path.Combine(path, PodPaths.Pid)))
        {
            throw new InvalidOperationException($"lock holder exited with {started.ExitCode}");
        }

        return (launch.Pod.Uuid, started);
    }

    public PodState StateOf(PodUuid uuid)
    {
        using var pod = Store.Open(uuid) ?? throw new InvalidOperationException($"pod {uuid} is gone");
        return pod.State;
    }

    public ProcessResult Kubefly(params string[] arguments) => KubeflyProcess.Run(["--dir", Directory, .. arguments]);

    public void Dispose()
    {
        foreach (var holder in holders)
        {
            if (!holder.HasExited)
            {
                holder.Kill();
                holder.WaitForExit();
            }

            holder.Dispose();
        }

        images.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private PodLaunch Prepare(string? uuidFile)
    {
        string[] tokens = uuidFile is null ? ["docker://busybox"] : [$"--uuid-file-save={uuidFile}", "docker://busybox"];
        return new PodRunner(Store, images).Prepare(RunArgumentsParser.Parse(tokens), InsecureOptions.Image, new Dictionary<string, string>());
    }
}
