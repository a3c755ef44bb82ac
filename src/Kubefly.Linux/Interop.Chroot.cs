using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "chroot", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ChrootNative(string path);

    /// <summary>chroot(2); with a private fs_struct (after unshare) it affects the calling thread only.</summary>
    public static void Chroot(string path)
    {
        if (ChrootNative(path) != 0)
        {
            throw SyscallException.FromLastError("chroot", path);
        }
    }
}
