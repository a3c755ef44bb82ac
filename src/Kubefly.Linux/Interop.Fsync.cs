using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncNative(SafeFileHandle fd);

    /// <summary>fsync(2) a directory so a rename inside it survives a crash.</summary>
    public static void FsyncDirectory(string path)
    {
        using var fd = Open(path, O_RDONLY | O_DIRECTORY);
        if (FsyncNative(fd) != 0)
        {
            throw SyscallException.FromLastError("fsync", path);
        }
    }
}
