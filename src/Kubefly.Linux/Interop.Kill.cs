using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    /// <summary>
    /// kill(2): a positive pid names a process, a negative one a process group. Returns 0 or the errno
    /// (ESRCH when nothing by that id exists), so callers can fall back from the process to its group.
    /// </summary>
    public static int TryKill(int pid, int signal)
    {
        if (KillNative(pid, signal) == 0)
        {
            return 0;
        }

        return Marshal.GetLastPInvokeError();
    }
}
