using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint WriteNative(int fd, byte* buffer, nuint count);

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
                var n = WriteNative(fd, start + written, (nuint)(bytes.Length - written));
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
