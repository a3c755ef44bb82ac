using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

public static partial class Interop
{
    private const int LOCK_SH = 1;
    private const int LOCK_EX = 2;
    private const int LOCK_NB = 4;
    private const int LOCK_UN = 8;

    [LibraryImport(Libc, EntryPoint = "flock", SetLastError = true)]
    private static partial int FlockNative(SafeFileHandle fd, int operation);

    /// <summary>Takes an flock on an open file. Returns false when non-blocking and the lock is held elsewhere.</summary>
    public static bool Flock(SafeFileHandle fd, bool exclusive, bool wait, string pathForErrors)
    {
        var op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
        while (true)
        {
            if (FlockNative(fd, op) == 0)
            {
                return true;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.EINTR)
            {
                continue;
            }

            if (errno == Errno.EWOULDBLOCK && !wait)
            {
                return false;
            }

            throw new SyscallException("flock", errno, pathForErrors);
        }
    }

    public static void Unlock(SafeFileHandle fd, string pathForErrors)
    {
        if (FlockNative(fd, LOCK_UN) != 0)
        {
            throw SyscallException.FromLastError("flock(LOCK_UN)", pathForErrors);
        }
    }
}
