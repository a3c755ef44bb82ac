using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "chdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ChdirNative(string path);

    [LibraryImport(Libc, EntryPoint = "fchdir", SetLastError = true)]
    private static partial int FchdirNative(SafeFileHandle fd);

    public static void Chdir(string path)
    {
        if (ChdirNative(path) != 0)
        {
            throw SyscallException.FromLastError("chdir", path);
        }
    }

    public static void Fchdir(SafeFileHandle directory, string pathForErrors)
    {
        if (FchdirNative(directory) != 0)
        {
            throw SyscallException.FromLastError("fchdir", pathForErrors);
        }
    }
}
