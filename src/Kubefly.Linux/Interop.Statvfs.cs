using System.Runtime.InteropServices;

namespace Kubefly.Linux;

// Free inodes of a filesystem, which DriveInfo does not report: a store of many small layers runs out of
// inodes before it runs out of bytes.
public static partial class Interop
{
    // struct statvfs on 64-bit glibc: eleven 8-byte fields (f_files at 40, f_favail at 56), then 24 spare bytes.
    private const int StatvfsSize = 112;
    private const int StatvfsFilesOffset = 40;
    private const int StatvfsFreeFilesForUsersOffset = 56;

    [LibraryImport(Libc, EntryPoint = "statvfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int StatvfsNative(string path, byte* buffer);

    /// <summary>Total and available inodes of the filesystem holding <paramref name="path"/>; 0 or an errno.</summary>
    public static unsafe int TryGetInodes(string path, out ulong total, out ulong available)
    {
        var buffer = stackalloc byte[StatvfsSize];
        if (StatvfsNative(path, buffer) != 0)
        {
            total = available = 0;
            return Marshal.GetLastPInvokeError();
        }

        total = *(ulong*)(buffer + StatvfsFilesOffset);
        available = *(ulong*)(buffer + StatvfsFreeFilesForUsersOffset);
        return 0;
    }
}
