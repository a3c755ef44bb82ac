using System.Runtime.InteropServices;

namespace Kubefly.Linux;

// The filesystem type under a path: transient pods may live only on a filesystem the reboot empties.
public static partial class Interop
{
    public const long TmpfsMagic = 0x01021994;
    public const long RamfsMagic = 0x858458f6;

    // struct statfs on 64-bit Linux: f_type is its first field (8 bytes); the whole struct is 120 bytes.
    private const int StatfsSize = 120;

    [LibraryImport(Libc, EntryPoint = "statfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int StatfsNative(string path, byte* buffer);

    /// <summary>The f_type magic of the filesystem holding <paramref name="path"/>.</summary>
    public static unsafe long GetFileSystemType(string path)
    {
        var buffer = stackalloc byte[StatfsSize];
        if (StatfsNative(path, buffer) != 0)
        {
            throw new SyscallException("statfs", Marshal.GetLastPInvokeError(), path);
        }

        return *(long*)buffer;
    }

    /// <summary>Whether the filesystem holding <paramref name="path"/> lives in memory only (tmpfs, ramfs).</summary>
    public static bool IsInMemoryFileSystem(string path) => GetFileSystemType(path) is TmpfsMagic or RamfsMagic;
}
