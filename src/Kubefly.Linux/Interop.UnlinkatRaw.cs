using System.Runtime.InteropServices;

namespace Kubefly.Linux;

// unlinkat(2) of a name given as its exact bytes: names read back from a directory (getdents64) need
// not be UTF-8, and a string round trip would name a different file or none.
public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "unlinkat", SetLastError = true)]
    private static unsafe partial int UnlinkatRawNative(SafeHandle dirfd, byte* path, int flags);

    /// <summary>unlinkat(2) of <paramref name="nameZ"/> (NUL-terminated bytes); returns the errno (0 on success).</summary>
    public static unsafe int TryUnlinkatRaw(SafeHandle directory, ReadOnlySpan<byte> nameZ, int flags)
    {
        fixed (byte* p = nameZ)
        {
            return UnlinkatRawNative(directory, p, flags) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
    }
}
