using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

// openat(2) of a name given as its exact bytes (see Interop.UnlinkatRaw.cs).
public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "openat", SetLastError = true)]
    private static unsafe partial int OpenatRawNative(SafeHandle dirfd, byte* path, int flags, uint mode);

    /// <summary>openat(2) with O_CLOEXEC added, of <paramref name="nameZ"/> (NUL-terminated bytes); returns the errno.</summary>
    public static unsafe int TryOpenatRaw(SafeHandle directory, ReadOnlySpan<byte> nameZ, int flags, out SafeFileHandle handle)
    {
        int fd;
        fixed (byte* p = nameZ)
        {
            do
            {
                fd = OpenatRawNative(directory, p, flags | O_CLOEXEC, 0);
            }
            while (fd < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR);
        }

        return HandleOrErrno(fd, out handle);
    }
}
