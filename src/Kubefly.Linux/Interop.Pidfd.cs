using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "pidfd_open", SetLastError = true)]
    private static partial int PidfdOpenNative(int pid, uint flags);

    [LibraryImport(Libc, EntryPoint = "pidfd_send_signal", SetLastError = true)]
    private static partial int PidfdSendSignalNative(SafeFileHandle pidfd, int signal, IntPtr info, uint flags);

    /// <summary>
    /// pidfd_open(2): a handle on the process <paramref name="pid"/> names now. Signals sent through it
    /// reach that process or nobody, never a later process given the same pid. Null when it is gone.
    /// </summary>
    public static SafeFileHandle? TryOpenProcess(int pid)
    {
        var fd = PidfdOpenNative(pid, 0);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno == Errno.ESRCH ? null : throw new SyscallException("pidfd_open", errno, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>pidfd_send_signal(2); returns 0 or the errno (ESRCH once the process has exited).</summary>
    public static int TrySignal(SafeFileHandle process, int signal) =>
        PidfdSendSignalNative(process, signal, IntPtr.Zero, 0) == 0 ? 0 : Marshal.GetLastPInvokeError();
}
