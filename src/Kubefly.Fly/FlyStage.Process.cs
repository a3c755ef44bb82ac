using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Kubefly.Linux;

namespace Kubefly.Fly;

public static partial class FlyStage
{
    /// <summary>Signals glibc refuses to touch (32, 33: its own) and those that cannot be caught or ignored.</summary>
    private static readonly int[] UntouchableSignals = [Interop.SIGKILL, Interop.SIGSTOP];

    /// <summary>
    /// "pid" and "mntns" in the pod directory, without a newline. The pid is this process's: exec keeps
    /// it, so it is the app's. mntns names the pod's mount namespace ("mnt:[INODE]"), which every process
    /// of the pod shares and nothing else does: stop signals exactly those (no process group is recorded,
    /// since the app keeps its caller's group and terminal). Written via a temporary file and rename, so a
    /// reader never sees half.
    /// </summary>
    private static void WritePidFiles(string podDirectory)
    {
        Step("pid files", () =>
        {
            WriteAtomically(Path.Combine(podDirectory, "pid"), Interop.GetProcessId().ToString(CultureInfo.InvariantCulture));
            WriteAtomically(Path.Combine(podDirectory, "mntns"), Interop.Readlink("/proc/thread-self/ns/mnt"));
        });
    }

    private static void WriteAtomically(string path, string content)
    {
        // Renaming over an existing file makes ext4 flush it first (auto_da_alloc, milliseconds here);
        // a pod directory normally has none, and a stale one is removed rather than replaced.
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, content);
        File.Delete(path);
        File.Move(temporary, path);
    }

    /// <summary>
    /// Every descriptor from 3 up close-on-exec (the runtime's own already are; inherited ones are not),
    /// then the ones to keep (pod lock, LISTEN_FDS) open across exec. Fails if a keeper is not open.
    /// </summary>
    private static void PrepareDescriptors(IReadOnlyList<int> keep)
    {
        Step("close_range", () => Interop.CloseRange(3, uint.MaxValue, Interop.CLOSE_RANGE_CLOEXEC));
        foreach (var fd in keep)
        {
            Step($"keep descriptor {fd}", () => Interop.KeepAcrossExec(fd));
        }
    }

    /// <summary>chroot into the rootfs through its descriptor (fchdir, chroot "."), on this thread only.</summary>
    private static void SwitchRoot(RootDirectory root)
    {
        Step("chroot", () =>
        {
            Interop.Fchdir(root.Handle, root.HostPath);
            Interop.Chroot(".");
        });
    }

    /// <summary>
    /// After the root switch: working directory, credentials, signals, exec. Failures end the process
    /// (exit 254) with the reason on fd 2: the caller's paths would now resolve inside the image.
    /// </summary>
    [DoesNotReturn]
    private static void Finish(string workingDirectory, ResolvedUser? user, ExecImage program)
    {
        try
        {
            Interop.Chdir(workingDirectory);
            if (user is not null && !Interop.HasCredentials(user.Uid, user.Gid, user.SupplementaryGroups))
            {
                Interop.Setgroups(user.SupplementaryGroups);
                Interop.Setgid(user.Gid);
                Interop.Setuid(user.Uid);
            }

            ResetSignalDispositions();
            Interop.UnblockAllSignals();
            FileCreationMask.RestoreForExec();
            var errno = program.Exec();
            FailAfterRootSwitch($"exec {program.Name}: {Errno.Describe(errno)}");
        }
        catch (Exception e)
        {
            FailAfterRootSwitch(e.Message);
        }
    }

    /// <summary>
    /// Replaces this process with a host program (the wrappers' hand-off to an engine other than kubefly),
    /// with the hygiene an app gets: default signal dispositions, nothing blocked, an explicit environment.
    /// Descriptors are left alone so systemd's LISTEN_FDS reach that engine. Returns only by throwing.
    /// </summary>
    public static void ExecOnHost(string executable, IReadOnlyList<string> arguments, IReadOnlyList<string> environment)
    {
        using var program = ExecImage.Create(arguments, environment, executable);
        ResetSignalDispositions();
        Interop.UnblockAllSignals();
        FileCreationMask.RestoreForExec();
        var errno = program.Exec();
        throw new FlyException($"exec {executable}: {Errno.Describe(errno)}");
    }

    /// <summary>
    /// Ignored signals survive execve (the runtime ignores SIGPIPE), so they go back to SIG_DFL. Caught
    /// ones revert by themselves at exec; leaving them to exec keeps the runtime's own handlers working
    /// until the very end.
    /// </summary>
    private static void ResetSignalDispositions()
    {
        for (var signal = 1; signal <= Interop.SignalMax; signal++)
        {
            if (Array.IndexOf(UntouchableSignals, signal) < 0 && Interop.IsSignalIgnored(signal))
            {
                Interop.SetDefaultSignalDisposition(signal);
            }
        }
    }

    [DoesNotReturn]
    private static void FailAfterRootSwitch(string message)
    {
        using (var standardError = new Microsoft.Win32.SafeHandles.SafeFileHandle(2, ownsHandle: false))
        {
            Interop.TryWriteAll(standardError, Encoding.UTF8.GetBytes("kubefly: fly: " + message + "\n"));
        }

        Interop.ExitImmediately(254);
    }
}
