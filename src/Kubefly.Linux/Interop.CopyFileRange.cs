using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "copy_file_range", SetLastError = true)]
    private static unsafe partial nint CopyFileRangeNative(SafeHandle inFd, long* inOffset, SafeHandle outFd, long* outOffset, nuint length, uint flags);

    /// <summary>
    /// copy_file_range(2) of the first <paramref name="length"/> bytes of <paramref name="source"/> into
    /// <paramref name="destination"/> at offset 0, by explicit offsets (neither file position moves): the
    /// kernel copies without user space, and shares the blocks (reflink) where the filesystem can. Returns
    /// 0 or the errno (EXDEV, EINVAL, EOPNOTSUPP: copy another way); a source shorter than
    /// <paramref name="length"/> is EIO.
    /// </summary>
    public static unsafe int TryCopyFileRange(SafeHandle source, SafeHandle destination, long length)
    {
        long inOffset = 0, outOffset = 0;
        while (inOffset < length)
        {
            var copied = CopyFileRangeNative(source, &inOffset, destination, &outOffset, (nuint)Math.Min(length - inOffset, 1L << 30), 0);
            if (copied < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR)
                {
                    continue;
                }

                return errno;
            }

            if (copied == 0)
            {
                return Errno.EIO;
            }
        }

        return 0;
    }
}
