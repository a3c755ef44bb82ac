using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "_exit")]
    private static partial void ExitNative(int status);

    /// <summary>
    /// _exit(2): ends the process now, running no managed shutdown (no handlers that could touch files
    /// after a chroot into an image).
    /// </summary>
    [DoesNotReturn]
    public static void ExitImmediately(int status)
    {
        ExitNative(status);
        throw new InvalidOperationException("unreachable: _exit returned");
    }
}
