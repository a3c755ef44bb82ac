namespace Kubefly.Fly;

/// <summary>
/// The fly stage: applies a <see cref="FlyPlan"/> in a private mount namespace on the calling thread
/// and execs the app in place of kubefly. The only code that touches mounts, namespaces and exec.
/// </summary>
public static partial class FlyStage
{
    // Placeholders so the pod layer compiles before the fly stage's branch lands; main takes the real ones.

    /// <summary>Applies the plan and execs the app; never returns on success.</summary>
    public static void Exec(FlyPlan plan) => throw new NotSupportedException("fly stage not merged yet");

    /// <summary>Joins the running pod's mount namespace, chroots into its rootfs and execs argv; never returns on success.</summary>
    public static void Enter(int podPid, string rootfsInPod, IReadOnlyList<string> argv, IReadOnlyList<string> env) =>
        throw new NotSupportedException("fly stage not merged yet");
}
