using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "execve", SetLastError = true)]
    private static unsafe partial int ExecveNative(byte* path, byte** argv, byte** envp);

    /// <summary>
    /// execve(2) on NUL-terminated, pinned-by-caller arrays. Returns only on failure, with the errno,
    /// so the caller can try the next PATH candidate without allocating in between.
    /// </summary>
    public static unsafe int Execve(byte* path, byte** argv, byte** envp)
    {
        ExecveNative(path, argv, envp);
        return Marshal.GetLastPInvokeError();
    }
}
