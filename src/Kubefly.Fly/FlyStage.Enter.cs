using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Kubefly.Linux;

namespace Kubefly.Fly;

public static partial class FlyStage
{
    /// <summary>
    /// Runs <paramref name="arguments"/> in a running pod's mount namespace and root, as root, with exactly
    /// <paramref name="environment"/>; never returns on success. <paramref name="rootfsInPod"/> is the
    /// rootfs as the pod's process sees it ("/" when that process is chrooted into it, as a fly app is).
    /// </summary>
    [DoesNotReturn]
    public static void Enter(int podPid, string rootfsInPod, IReadOnlyList<string> arguments, IReadOnlyList<string> environment)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentNullException.ThrowIfNull(environment);
        if (arguments.Count == 0 || string.IsNullOrEmpty(arguments[0]))
        {
            throw new FlyException("enter: no command given");
        }

        var proc = "/proc/" + podPid.ToString(CultureInfo.InvariantCulture);
        using var mountNamespace = Step($"enter pod process {podPid}", () => Interop.Open(proc + "/ns/mnt", Interop.O_RDONLY));
        using var podRoot = Step($"enter pod process {podPid}", () => Interop.Open(proc + "/root", Interop.O_PATH | Interop.O_DIRECTORY));
        using var root = string.IsNullOrEmpty(rootfsInPod) || rootfsInPod == "/"
            ? RootDirectory.Adopt(podRoot, proc + "/root")
            : RootDirectory.Adopt(RootDirectory.Adopt(podRoot, proc + "/root").Open(rootfsInPod, Interop.O_PATH | Interop.O_DIRECTORY), $"{rootfsInPod} of {proc}/root");
        using var program = ExecImage.Create(arguments, environment);
        PrepareDescriptors([]);

        // setns(CLONE_NEWNS) refuses a thread sharing its fs_struct (root, cwd) with the runtime's threads.
        Step("enter: unshare", () => Interop.Unshare(Interop.CLONE_FS));
        Step("enter: setns", () => Interop.Setns(mountNamespace, Interop.CLONE_NEWNS, proc + "/ns/mnt"));
        SwitchRoot(root);
        Finish("/", null, program);
    }
}
