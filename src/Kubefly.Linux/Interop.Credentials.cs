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

    [LibraryImport(Libc, EntryPoint = "getresuid", SetLastError = true)]
    private static unsafe partial int GetresuidNative(uint* real, uint* effective, uint* saved);

    [LibraryImport(Libc, EntryPoint = "getresgid", SetLastError = true)]
    private static unsafe partial int GetresgidNative(uint* real, uint* effective, uint* saved);

    [LibraryImport(Libc, EntryPoint = "getgroups", SetLastError = true)]
    private static unsafe partial int GetgroupsNative(int size, uint* list);

    /// <summary>
    /// Whether the process already has exactly these credentials: real, effective and saved uid and gid,
    /// and these supplementary groups in any order. Then setting them would change nothing, and skipping
    /// saves glibc's broadcast of each set*id call to every thread of the runtime. Any doubt says no.
    /// </summary>
    public static unsafe bool HasCredentials(uint uid, uint gid, IReadOnlyList<uint> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        uint ru, eu, su, rg, eg, sg;
        if (GetresuidNative(&ru, &eu, &su) != 0 || GetresgidNative(&rg, &eg, &sg) != 0
            || ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
        {
            return false;
        }

        Span<uint> current = stackalloc uint[64];
        int count;
        fixed (uint* p = current)
        {
            count = GetgroupsNative(current.Length, p);
        }

        if (count < 0 || count != groups.Count)
        {
            return false;
        }

        var mine = current[..count].ToArray();
        Array.Sort(mine);
        var wanted = groups.ToArray();
        Array.Sort(wanted);
        return mine.AsSpan().SequenceEqual(wanted);
    }
}
