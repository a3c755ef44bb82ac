using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    /// <summary>Mark the range close-on-exec instead of closing it (the runtime keeps using its fds until exec).</summary>
    public const uint CLOSE_RANGE_CLOEXEC = 0x4;

    [LibraryImport(Libc, EntryPoint = "close_range", SetLastError = true)]
    private static partial int CloseRangeNative(uint first, uint last, int flags);

    /// <summary>close_range(2) (kernel 5.11+ for CLOSE_RANGE_CLOEXEC).</summary>
    public static void CloseRange(uint first, uint last, uint flags)
    {
        if (CloseRangeNative(first, last, (int)flags) != 0)
        {
            throw SyscallException.FromLastError("close_range", $"{first}..{last} flags 0x{flags:x}");
        }
    }
}
