using System.Runtime.InteropServices;

namespace Kubefly.Linux;

// Rewinding a directory descriptor, so a listing can start again after its entries changed.
public static partial class Interop
{
    private const int SEEK_SET = 0;

    [LibraryImport(Libc, EntryPoint = "lseek", SetLastError = true)]
    private static partial long LseekNative(SafeHandle fd, long offset, int whence);

    public static int TryRewind(SafeHandle fd) => LseekNative(fd, 0, SEEK_SET) < 0 ? Marshal.GetLastPInvokeError() : 0;
}
