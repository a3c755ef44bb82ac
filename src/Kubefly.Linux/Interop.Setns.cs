using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "setns", SetLastError = true)]
    private static partial int SetnsNative(SafeFileHandle namespaceFd, int nsType);

    /// <summary>setns(2): moves the calling thread into the namespace <paramref name="namespaceFd"/> refers to.</summary>
    public static void Setns(SafeFileHandle namespaceFd, int nsType, string pathForErrors)
    {
        if (SetnsNative(namespaceFd, nsType) != 0)
        {
            throw SyscallException.FromLastError("setns", $"{pathForErrors} ({DescribeCloneFlags(nsType)})");
        }
    }
}
