namespace Kubefly.Pods;

/// <summary>rkt's pod states, encoded by the directory a pod lives in plus whether its lock is held.</summary>
public enum PodState
{
    Embryo,
    Preparing,
    AbortedPrepare,
    Prepared,
    Running,
    Deleting,
    ExitedDeleting,
    Exited,
    ExitedGarbage,
    Garbage,
}

/// <summary>The directories under &lt;dir&gt;/pods/, in the order a pod moves through them.</summary>
public enum PodLocation
{
    Embryo,
    Prepare,
    Prepared,
    Run,
    ExitedGarbage,
    Garbage,
}

public static class PodStates
{
    /// <summary>The words rkt printed (`state=exited garbage`).</summary>
    public static string Describe(this PodState state) => state switch
    {
        PodState.Embryo => "embryo",
        PodState.Preparing => "preparing",
        PodState.AbortedPrepare => "aborted prepare",
        PodState.Prepared => "prepared",
        PodState.Running => "running",
        PodState.Deleting => "deleting",
        PodState.ExitedDeleting => "exited deleting",
        PodState.Exited => "exited",
        PodState.ExitedGarbage => "exited garbage",
        PodState.Garbage => "garbage",
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    public static string DirectoryName(this PodLocation location) => location switch
    {
        PodLocation.Embryo => "embryo",
        PodLocation.Prepare => "prepare",
        PodLocation.Prepared => "prepared",
        PodLocation.Run => "run",
        PodLocation.ExitedGarbage => "exited-garbage",
        PodLocation.Garbage => "garbage",
        _ => throw new ArgumentOutOfRangeException(nameof(location)),
    };

    /// <summary>
    /// The state a pod is in, from where it lives and whether someone holds its lock (rkt's rule: a pod
    /// in run/ whose lock can be taken has exited; in prepare/ it was abandoned mid-prepare).
    /// </summary>
    public static PodState From(PodLocation location, bool locked) => location switch
    {
        PodLocation.Embryo => PodState.Embryo,
        PodLocation.Prepare => locked ? PodState.Preparing : PodState.AbortedPrepare,
        PodLocation.Prepared => PodState.Prepared,
        PodLocation.Run => locked ? PodState.Running : PodState.Exited,
        PodLocation.ExitedGarbage => locked ? PodState.ExitedDeleting : PodState.ExitedGarbage,
        PodLocation.Garbage => locked ? PodState.Deleting : PodState.Garbage,
        _ => throw new ArgumentOutOfRangeException(nameof(location)),
    };

    /// <summary>The app has run and is gone (rkt's IsAfterRun).</summary>
    public static bool IsAfterRun(this PodState state) =>
        state is PodState.Exited or PodState.ExitedGarbage or PodState.ExitedDeleting or PodState.Deleting or PodState.Garbage;

    /// <summary>Whether a lock probe is meaningful: embryo and prepared pods are never locked while at rest.</summary>
    internal static bool IsLockProbed(this PodLocation location) => location is not (PodLocation.Embryo or PodLocation.Prepared);
}
