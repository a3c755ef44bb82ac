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
}
