using Kubefly.Cli.Commands;
using Kubefly.Wrappers;

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
        StandardStreams.Install();
        Linux.FileCreationMask.Harden();
        var name = InvocationName.Current();
        if (WrapperProfiles.All.FirstOrDefault(profile => profile.ProgramName == name) is { } wrapper)
        {
            return WrapperCommand.Run(wrapper, args);
        }

        // `kubefly wrapper NAME ARGS...`: the app's flags must reach the wrapper untouched, so they
        // never go through the engine's option parser.
        if (args.Length > 0 && args[0] == WrapperCommand.Name)
        {
            return WrapperCommand.RunNamed(args[1..]);
        }

        return EngineCommandLine.Run(args);
    }
}
