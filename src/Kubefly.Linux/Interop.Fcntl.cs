using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    private const int F_GETFD = 1;
    private const int F_SETFD = 2;
    private const int FD_CLOEXEC = 1;

    [LibraryImport(Libc, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int FcntlNative(int fd, int command, int argument);

    /// <summary>Clears FD_CLOEXEC so <paramref name="fd"/> survives execve; fails (EBADF) if it is not open.</summary>
    public static void KeepAcrossExec(int fd)
    {
        var flags = FcntlNative(fd, F_GETFD, 0);
        if (flags < 0 || FcntlNative(fd, F_SETFD, flags & ~FD_CLOEXEC) != 0)
        {
            throw SyscallException.FromLastError("fcntl(F_SETFD)", $"fd {fd}");
        }
    }

    /// <summary>True when <paramref name="fd"/> is open and marked close-on-exec.</summary>
    public static bool IsCloseOnExec(int fd)
    {
        var flags = FcntlNative(fd, F_GETFD, 0);
        if (flags < 0)
        {
            throw SyscallException.FromLastError("fcntl(F_GETFD)", $"fd {fd}");
        }

        return (flags & FD_CLOEXEC) != 0;
    }
}
