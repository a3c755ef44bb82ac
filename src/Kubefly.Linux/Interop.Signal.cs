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

    /// <summary>glibc's struct sigaction is 152 bytes on x86_64 and arm64; the handler is its first word.</summary>
    private const int SigactionBufferSize = 256;

    [LibraryImport(Libc, EntryPoint = "sigaction", SetLastError = true)]
    private static unsafe partial int SigactionNative(int signal, byte* action, byte* oldAction);

    [LibraryImport(Libc, EntryPoint = "signal", SetLastError = true)]
    private static partial nint SignalNative(int signal, nint handler);

    /// <summary>
    /// True when <paramref name="signal"/> is ignored (SIG_IGN). Ignored is the only disposition execve
    /// keeps: caught signals revert to the default in the new program by themselves.
    /// </summary>
    public static unsafe bool IsSignalIgnored(int signal)
    {
        var buffer = stackalloc byte[SigactionBufferSize];
        new Span<byte>(buffer, SigactionBufferSize).Clear();
        if (SigactionNative(signal, null, buffer) != 0)
        {
            throw SyscallException.FromLastError("sigaction", $"signal {signal}");
        }

        return *(nint*)buffer == SIG_IGN;
    }

    /// <summary>signal(signal, SIG_DFL).</summary>
    public static void SetDefaultSignalDisposition(int signal)
    {
        if (SignalNative(signal, SIG_DFL) == -1)
        {
            throw SyscallException.FromLastError("signal(SIG_DFL)", $"signal {signal}");
        }
    }
}
