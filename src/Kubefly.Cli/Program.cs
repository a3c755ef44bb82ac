namespace Kubefly.Cli;

/// <summary>
/// One binary, many names: started as kubelet-wrapper, etcd-wrapper or flannel-wrapper it is that
/// wrapper; as kubefly or rkt it is the engine. Everything stays synchronous on the main thread,
/// because `run` ends in unshare/chroot/execve, which act on the calling thread only.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var name = InvocationName.Current();
        return name switch
        {
            _ => EngineCommandLine.Run(args),
        };
    }
}
