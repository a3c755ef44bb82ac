using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint WriteNative(SafeHandle fd, byte* buffer, nuint count);

    /// <summary>write(2) until every byte is written (short writes and EINTR retried); returns 0 or the errno.</summary>
    public static int TryWriteAll(SafeHandle fd, ReadOnlySpan<byte> data) => TryWriteAll(fd, data, out _);

    /// <summary>As <see cref="TryWriteAll(SafeHandle, ReadOnlySpan{byte})"/>, saying how many bytes made it before an error.</summary>
    public static unsafe int TryWriteAll(SafeHandle fd, ReadOnlySpan<byte> data, out int writtenBeforeError)
    {
        writtenBeforeError = 0;
        fixed (byte* start = data)
        {
            while (writtenBeforeError < data.Length)
            {
                var written = WriteNative(fd, start + writtenBeforeError, (nuint)(data.Length - writtenBeforeError));
                if (written < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Errno.EINTR)
                    {
                        continue;
                    }

                    return errno;
                }

                writtenBeforeError += (int)written;
            }
        }

        return 0;
    }
}
