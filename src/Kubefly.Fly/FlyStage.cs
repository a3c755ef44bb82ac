using System.Diagnostics.CodeAnalysis;
using Kubefly.Linux;

namespace Kubefly.Fly;

/// <summary>
/// The fly stage: applies a <see cref="FlyPlan"/> in a private mount namespace on the calling thread
/// and execs the app in place of kubefly. The only code that touches mounts, namespaces and exec.
/// Everything runs synchronously on the calling thread (unshare and chroot are per-thread in a
/// multi-threaded runtime), in two phases like runc's rootfs set-up: prepare (namespace, propagation,
/// overlay, mounts, files), then switch (chroot, credentials, exec hygiene, execve).
/// </summary>
public static partial class FlyStage
{
    /// <summary>
    /// Runs the app of <paramref name="plan"/> in place of this process; never returns on success.
    /// Before the root switch a failure throws <see cref="FlyException"/> (this thread is then in the
    /// pod's mount namespace: the caller should report and exit). After chroot a failure cannot be
    /// reported safely by the caller (its paths would resolve inside the image), so it is written to
    /// fd 2 as "kubefly: fly: MESSAGE" and the process exits 254 at once.
    /// </summary>
    [DoesNotReturn]
    public static void Exec(FlyPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        plan = WithoutNullLists(plan);
        Validate(plan);
        try
        {
            PrepareAndExec(plan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Any failed call the steps did not name themselves still reaches the caller as a FlyException.
            throw new FlyException($"fly: {e.Message}", e);
        }
    }

    [DoesNotReturn]
    private static void PrepareAndExec(FlyPlan plan)
    {
        var notifySocket = HostNotifySocket(plan);
        var canonical = plan with { Mounts = plan.Mounts.Select(CanonicalSource).ToList() };

        Step("unshare", () => Interop.Unshare(Interop.CLONE_NEWNS));
        // Only explicit rshared volumes need the mount table (see MountPlanner.PlanPropagation); on a node
        // with hundreds of mounts, reading it costs a pod start more than the mounts themselves.
        var mountTable = canonical.Mounts.Any(m => m.Propagation == MountPropagation.RShared) ? Step("mount table", MountInfo.ReadCurrentThread) : [];
        var mountPlan = MountPlanner.Plan(canonical, mountTable, notifySocket);

        // Host trees are cloned while this namespace's mounts still have the host's propagation.
        using var hostTrees = CloneHostTrees(mountPlan.Mounts);
        ApplyPropagation(mountPlan.Propagation);
        MountOverlay(mountPlan.Overlay);

        using var root = Step("overlay rootfs", () => RootDirectory.Open(mountPlan.Overlay.Target));
        for (var i = 0; i < mountPlan.Mounts.Count; i++)
        {
            ApplyMount(root, mountPlan.Mounts[i], hostTrees[i]);
        }

        foreach (var file in mountPlan.Files)
        {
            Step(file.Purpose, () => root.WriteFile(file.Target, file.Content, file.OnlyIfMissing));
        }

        var user = ResolveUser(root, plan);
        Step("working directory", () => root.OpenOrCreate(plan.WorkingDirectory, directory: true).Dispose());
        var environment = ExecEnvironment(plan.Environment, notifySocket is null ? null : plan.NotifySocketTarget, plan.NotifySocketTarget is null ? null : System.Environment.GetEnvironmentVariable("NOTIFY_SOCKET"));
        using var program = ExecImage.Create(plan.Arguments, environment);

        WritePidFiles(plan.PodDirectory);
        PrepareDescriptors(plan.KeepDescriptors);

        // From here on the thread's root is the image: no exceptions to the caller.
        SwitchRoot(root);
        Finish(plan.WorkingDirectory, user, program);
    }

    /// <summary>
    /// A plan read back by System.Text.Json source generation leaves absent collections null despite
    /// their initializers; treat them as empty rather than failing deep inside.
    /// </summary>
    private static FlyPlan WithoutNullLists(FlyPlan plan) => plan with
    {
        LowerDirectories = plan.LowerDirectories ?? [],
        Mounts = plan.Mounts ?? [],
        Arguments = plan.Arguments ?? [],
        Environment = plan.Environment ?? [],
        HostsEntries = plan.HostsEntries ?? [],
        KeepDescriptors = plan.KeepDescriptors ?? [],
        WorkingDirectory = string.IsNullOrEmpty(plan.WorkingDirectory) ? "/" : plan.WorkingDirectory,
    };

    private static void Validate(FlyPlan plan)
    {
        if (plan.Arguments.Count == 0 || string.IsNullOrEmpty(plan.Arguments[0]))
        {
            throw new FlyException("fly: the app has no command (empty argv)");
        }

        foreach (var (path, what) in new[]
        {
            (plan.PodDirectory, "pod directory"), (plan.RootfsDirectory, "rootfs directory"),
            (plan.UpperDirectory, "overlay upper directory"), (plan.WorkDirectory, "overlay work directory"),
        })
        {
            if (!Path.IsPathRooted(path))
            {
                throw new FlyException($"fly: the {what} must be an absolute path: {path}");
            }
        }

        if (!plan.WorkingDirectory.StartsWith('/'))
        {
            throw new FlyException($"fly: the working directory must be absolute: {plan.WorkingDirectory}");
        }

        foreach (var fd in plan.KeepDescriptors)
        {
            if (fd < 3)
            {
                throw new FlyException($"fly: descriptor {fd} to keep is below 3 (0-2 are always kept)");
            }
        }
    }

    /// <summary>Runs one step, turning a failed system call into a <see cref="FlyException"/> naming the step.</summary>
    private static void Step(string purpose, Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FlyException($"fly: {purpose}: {e.Message}", e);
        }
    }

    private static T Step<T>(string purpose, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FlyException($"fly: {purpose}: {e.Message}", e);
        }
    }

    /// <summary>Host sources with symlinks resolved, so they compare with the mount table (rshared checks).</summary>
    private static FlyMount CanonicalSource(FlyMount mount)
    {
        if (!Path.IsPathRooted(mount.Source))
        {
            throw new FlyException($"fly: volume {mount.VolumeName}: source must be an absolute path: {mount.Source}");
        }

        return Step($"volume {mount.VolumeName}: source", () =>
        {
            using var fd = Interop.Open(mount.Source, Interop.O_PATH);
            return mount with { Source = Interop.Readlink(RootDirectory.ProcPath(fd)) };
        });
    }

    /// <summary>
    /// The host's notify socket comes from this process's environment (systemd sets NOTIFY_SOCKET on the
    /// unit's main process, which is kubefly), not from the plan's app environment, which the pod layer
    /// composes. Returned only when it names a socket file.
    /// </summary>
    private static string? HostNotifySocket(FlyPlan plan)
    {
        if (plan.NotifySocketTarget is null)
        {
            return null;
        }

        var value = System.Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(value) || !value.StartsWith('/'))
        {
            return null;
        }

        try
        {
            return Interop.IsSocket(Interop.Stat(value)) ? value : null;
        }
        catch (SyscallException)
        {
            return null;
        }
    }

    /// <summary>
    /// The app's environment: exactly the plan's, except NOTIFY_SOCKET, which points at the bound socket
    /// when one was bound, or passes an abstract (@...) host socket through (fly shares the host network).
    /// </summary>
    internal static IReadOnlyList<string> ExecEnvironment(IReadOnlyList<string> planEnvironment, string? boundNotifyTarget, string? hostNotifySocket)
    {
        string? notify = boundNotifyTarget ?? (hostNotifySocket is not null && hostNotifySocket.StartsWith('@') ? hostNotifySocket : null);
        if (notify is null)
        {
            return planEnvironment;
        }

        return planEnvironment.Where(e => !e.StartsWith("NOTIFY_SOCKET=", StringComparison.Ordinal)).Append("NOTIFY_SOCKET=" + notify).ToList();
    }
}
