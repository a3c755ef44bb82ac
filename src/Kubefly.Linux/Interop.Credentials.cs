using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "setgroups", SetLastError = true)]
    private static unsafe partial int SetgroupsNative(nuint size, uint* groups);

    [LibraryImport(Libc, EntryPoint = "setgid", SetLastError = true)]
    private static partial int SetgidNative(uint gid);

    [LibraryImport(Libc, EntryPoint = "setuid", SetLastError = true)]
    private static partial int SetuidNative(uint uid);

    /// <summary>setgroups(2) through glibc, which applies it to every thread of the process.</summary>
    public static unsafe void Setgroups(IReadOnlyList<uint> groups)
    {
        var copy = groups.ToArray();
        fixed (uint* p = copy)
        {
            if (SetgroupsNative((nuint)copy.Length, p) != 0)
            {
                throw SyscallException.FromLastError("setgroups", $"[{string.Join(',', copy)}]");
            }
        }
    }

    public static void Setgid(uint gid)
    {
        if (SetgidNative(gid) != 0)
        {
            throw SyscallException.FromLastError("setgid", gid.ToString());
        }
    }

    public static void Setuid(uint uid)
    {
        if (SetuidNative(uid) != 0)
        {
            throw SyscallException.FromLastError("setuid", uid.ToString());
        }
    }
}
