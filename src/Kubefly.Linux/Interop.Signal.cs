using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    public const int SIGSTOP = 19;

    /// <summary>The highest signal number on Linux (SIGRTMAX).</summary>
    public const int SignalMax = 64;

    private const nint SIG_DFL = 0;
    private const nint SIG_IGN = 1;

    /// <summary>The kernel's sigset_t, which rt_sigaction insists on being told.</summary>
    private const nuint KernelSignalSetSize = 8;

    /// <summary>
    /// rt_sigaction is called directly, not through glibc: glibc refuses (EINVAL) signals 32 and 33, which
    /// it reserves for itself, yet a parent may have left them ignored, and an ignored signal survives exec.
    /// </summary>
    [LibraryImport(Libc, EntryPoint = "syscall", SetLastError = true)]
    private static unsafe partial long SyscallRtSigaction(long number, int signal, KernelSigaction* action, KernelSigaction* oldAction, nuint signalSetSize);

    private static long SYS_rt_sigaction => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 13,
        Architecture.Arm64 => 134,
        var other => throw new PlatformNotSupportedException($"rt_sigaction on {other}"),
    };

    /// <summary>
    /// True when <paramref name="signal"/> is ignored (SIG_IGN). Ignored is the only disposition execve
    /// keeps: caught signals revert to the default in the new program by themselves.
    /// </summary>
    public static unsafe bool IsSignalIgnored(int signal)
    {
        KernelSigaction current;
        if (SyscallRtSigaction(SYS_rt_sigaction, signal, null, &current, KernelSignalSetSize) != 0)
        {
            throw SyscallException.FromLastError("rt_sigaction", $"signal {signal}");
        }

        return current.Handler == SIG_IGN;
    }

    /// <summary>Sets <paramref name="signal"/> to its default disposition, with no flags and an empty mask.</summary>
    public static void SetDefaultSignalDisposition(int signal) => SetDisposition(signal, SIG_DFL);

    /// <summary>Sets <paramref name="signal"/> to SIG_IGN: what a careless parent leaves behind (tests make one).</summary>
    public static void IgnoreSignal(int signal) => SetDisposition(signal, SIG_IGN);

    private static unsafe void SetDisposition(int signal, nint handler)
    {
        var action = new KernelSigaction { Handler = handler };
        if (SyscallRtSigaction(SYS_rt_sigaction, signal, &action, null, KernelSignalSetSize) != 0)
        {
            throw SyscallException.FromLastError("rt_sigaction", $"signal {signal}");
        }
    }

    /// <summary>The kernel's struct sigaction on x86_64 and arm64 (both define SA_RESTORER).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct KernelSigaction
    {
        public nint Handler;
        public nuint Flags;
        public nint Restorer;
        public ulong Mask;
    }
}
