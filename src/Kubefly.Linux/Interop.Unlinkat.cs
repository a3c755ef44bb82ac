using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnlinkatNative(SafeFileHandle directory, string name, int flags);

    /// <summary>unlinkat(2) of a non-directory entry; never follows a symlink (it removes the link itself).</summary>
    public static void Unlinkat(SafeFileHandle directory, string name, string pathForErrors)
    {
        if (UnlinkatNative(directory, name, 0) != 0)
        {
            throw SyscallException.FromLastError("unlinkat", pathForErrors);
        }
    }
}
