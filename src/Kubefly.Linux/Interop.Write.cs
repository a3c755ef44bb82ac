using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint WriteNative(SafeHandle fd, byte* buffer, nuint count);

    /// <summary>write(2) until every byte is written (short writes and EINTR retried); returns 0 or the errno.</summary>
    public static unsafe int TryWriteAll(SafeHandle fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* start = data)
        {
            var p = start;
            var left = data.Length;
            while (left > 0)
            {
                var written = WriteNative(fd, p, (nuint)left);
                if (written < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Errno.EINTR)
                    {
                        continue;
                    }

                    return errno;
                }

                p += written;
                left -= (int)written;
            }
        }

        return 0;
    }

    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint WriteNativeFd(int fd, byte* buffer, nuint count);

    /// <summary>
    /// Writes all of <paramref name="bytes"/> to a raw descriptor, retrying on EINTR and short writes;
    /// false on any other failure. For diagnostics on the exec path, where System.Console must not run.
    /// </summary>
    public static unsafe bool TryWriteAll(int fd, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* start = bytes)
        {
            var written = 0;
            while (written < bytes.Length)
            {
                var n = WriteNativeFd(fd, start + written, (nuint)(bytes.Length - written));
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == Errno.EINTR)
                    {
                        continue;
                    }

                    return false;
                }

                written += (int)n;
            }
        }

        return true;
    }
}
