using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "getpid")]
    private static partial int GetpidNative();

    [LibraryImport(Libc, EntryPoint = "getpgid", SetLastError = true)]
    private static partial int GetpgidNative(int pid);

    public static int GetProcessId() => GetpidNative();

    /// <summary>The process group of <paramref name="pid"/> (0: the caller).</summary>
    public static int GetProcessGroupId(int pid = 0)
    {
        var pgid = GetpgidNative(pid);
        if (pgid < 0)
        {
            throw SyscallException.FromLastError("getpgid", pid.ToString());
        }

        return pgid;
    }
}
