namespace Kubefly.Fly;

/// <summary>
/// The fly stage: applies a <see cref="FlyPlan"/> in a private mount namespace on the calling thread
/// and execs the app in place of kubefly. The only code that touches mounts, namespaces and exec.
/// </summary>
public static partial class FlyStage
{
}
