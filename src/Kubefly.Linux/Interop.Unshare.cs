using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    /// <summary>Private root, cwd and umask for the calling thread (setns(CLONE_NEWNS) refuses a shared one).</summary>
    public const int CLONE_FS = 0x200;

    /// <summary>A new mount namespace; for unshare(2) it implies CLONE_FS, so it is per-thread in .NET.</summary>
    public const int CLONE_NEWNS = 0x20000;

    [LibraryImport(Libc, EntryPoint = "unshare", SetLastError = true)]
    private static partial int UnshareNative(int flags);

    /// <summary>unshare(2) for the calling thread only (a .NET process has other threads).</summary>
    public static void Unshare(int flags)
    {
        if (UnshareNative(flags) != 0)
        {
            throw SyscallException.FromLastError("unshare", DescribeCloneFlags(flags));
        }
    }

    public static string DescribeCloneFlags(int flags)
    {
        var names = new List<string>();
        if ((flags & CLONE_FS) != 0)
        {
            names.Add("CLONE_FS");
        }

        if ((flags & CLONE_NEWNS) != 0)
        {
            names.Add("CLONE_NEWNS");
        }

        var rest = flags & ~(CLONE_FS | CLONE_NEWNS);
        if (rest != 0)
        {
            names.Add($"0x{rest:x}");
        }

        return names.Count == 0 ? "0" : string.Join('|', names);
    }
}
