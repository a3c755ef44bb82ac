using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkdiratNative(SafeFileHandle directory, string name, uint mode);

    /// <summary>mkdirat(2); returns the errno (0 on success) so callers can treat EEXIST as a race to retry.</summary>
    public static int TryMkdirat(SafeFileHandle directory, string name, uint mode) =>
        MkdiratNative(directory, name, mode) == 0 ? 0 : Marshal.GetLastPInvokeError();
}
