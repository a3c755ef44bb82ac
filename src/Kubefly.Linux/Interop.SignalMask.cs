using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    private const int SIG_SETMASK = 2;

    /// <summary>glibc's sigset_t: 1024 bits.</summary>
    private const int SigsetSize = 128;

    [LibraryImport(Libc, EntryPoint = "pthread_sigmask")]
    private static unsafe partial int PthreadSigmaskNative(int how, byte* set, byte* oldSet);

    /// <summary>Unblocks every signal for the calling thread (the mask is per thread and survives execve).</summary>
    public static unsafe void UnblockAllSignals()
    {
        var empty = stackalloc byte[SigsetSize];
        new Span<byte>(empty, SigsetSize).Clear();
        var error = PthreadSigmaskNative(SIG_SETMASK, empty, null);
        if (error != 0)
        {
            throw new SyscallException("pthread_sigmask(SIG_SETMASK, empty)", error);
        }
    }
}
