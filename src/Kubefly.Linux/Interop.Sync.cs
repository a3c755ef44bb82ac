using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "syncfs", SetLastError = true)]
    private static partial int SyncfsNative(SafeHandle fd);

    /// <summary>syncfs(2): flushes the whole filesystem holding <paramref name="fd"/>, once, instead of an fsync per file.</summary>
    public static void Syncfs(SafeHandle fd, string pathForErrors)
    {
        if (SyncfsNative(fd) != 0)
        {
            throw SyscallException.FromLastError("syncfs", pathForErrors);
        }
    }
}
