using System.Runtime.InteropServices;

namespace Kubefly.Linux;

/// <summary>
/// execve for the wrappers' hand-off to an external engine ($RKT). Named apart from the fly stage's
/// exec so both can live in the partial Interop class.
/// </summary>
public static partial class Interop
{
    private const int SIG_SETMASK = 2;
    private const int SignalCount = 64;
    private const int SIGKILL = 9;
    private const int SIGSTOP = 19;

    // sigset_t in glibc is 1024 bits.
    private const int SigsetBytes = 128;

    [LibraryImport(Libc, EntryPoint = "signal", SetLastError = true)]
    private static partial nint SignalForExecWrapper(int signal, nint handler);

    [LibraryImport(Libc, EntryPoint = "pthread_sigmask")]
    private static unsafe partial int SigmaskForExecWrapper(int how, byte* set, byte* oldSet);

    [LibraryImport(Libc, EntryPoint = "execve", SetLastError = true)]
    private static unsafe partial int ExecveForExecWrapper(byte* path, byte** argv, byte** envp);

    /// <summary>
    /// Replaces this process with <paramref name="path"/>, after undoing what the .NET runtime did to
    /// signals (it ignores SIGPIPE, and ignored signals survive exec). Returns only by throwing.
    /// </summary>
    public static unsafe void ExecReplacingProcess(string path, IReadOnlyList<string> arguments, IReadOnlyList<string> environment)
    {
        var pathBytes = Utf8Z(path);
        var argumentHandles = PinAll(arguments, out var argumentPins);
        var environmentHandles = PinAll(environment, out var environmentPins);
        try
        {
            ResetSignalsForExec();
            fixed (byte* pathPointer = pathBytes)
            fixed (nint* argv = argumentHandles)
            fixed (nint* envp = environmentHandles)
            {
                ExecveForExecWrapper(pathPointer, (byte**)argv, (byte**)envp);
            }

            throw SyscallException.FromLastError("execve", path);
        }
        finally
        {
            foreach (var pin in argumentPins.Concat(environmentPins))
            {
                pin.Free();
            }
        }
    }

    private static unsafe void ResetSignalsForExec()
    {
        for (var signal = 1; signal <= SignalCount; signal++)
        {
            // glibc reserves 32 and 33 for its threads and rejects them; KILL and STOP cannot be changed.
            if (signal is SIGKILL or SIGSTOP or 32 or 33)
            {
                continue;
            }

            SignalForExecWrapper(signal, 0);
        }

        var empty = stackalloc byte[SigsetBytes];
        new Span<byte>(empty, SigsetBytes).Clear();
        var error = SigmaskForExecWrapper(SIG_SETMASK, empty, null);
        if (error != 0)
        {
            throw new SyscallException("pthread_sigmask(SIG_SETMASK, empty)", error);
        }
    }

    /// <summary>A NULL-terminated array of pointers to NUL-terminated UTF-8 strings, pinned until freed.</summary>
    private static nint[] PinAll(IReadOnlyList<string> values, out List<GCHandle> pins)
    {
        pins = new List<GCHandle>(values.Count);
        var pointers = new nint[values.Count + 1];
        for (var i = 0; i < values.Count; i++)
        {
            var pin = GCHandle.Alloc(Utf8Z(values[i]), GCHandleType.Pinned);
            pins.Add(pin);
            pointers[i] = pin.AddrOfPinnedObject();
        }

        return pointers;
    }
}
