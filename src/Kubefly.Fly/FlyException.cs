using Kubefly.Oci;

namespace Kubefly.Fly;

/// <summary>
/// The fly stage could not set up the pod or exec the app. The message names the step, the operation,
/// the paths and the flags involved. Thrown before execve; the process is then in the pod's namespace
/// (and perhaps its root and user), so the caller should report it and exit, not carry on.
/// </summary>
public sealed class FlyException : KubeflyException
{
    public FlyException(string message)
        : base(message)
    {
    }

    public FlyException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
