using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Kubefly.Linux;

/// <summary>What statx(2) says about a path: its identity (device and inode), type and owner.</summary>
public readonly record struct PathStatus(uint DeviceMajor, uint DeviceMinor, ulong Inode, uint Mode, uint OwnerId, uint GroupId)
{
    private const uint S_IFMT = 0xF000;
    private const uint S_IFSOCK = 0xC000;
    private const uint S_IFDIR = 0x4000;
    private const uint S_IFREG = 0x8000;
    private const uint S_IFLNK = 0xA000;

    public bool IsDirectory => (Mode & S_IFMT) == S_IFDIR;

    public bool IsRegularFile => (Mode & S_IFMT) == S_IFREG;

    public bool IsSocket => (Mode & S_IFMT) == S_IFSOCK;

    public bool IsSymbolicLink => (Mode & S_IFMT) == S_IFLNK;

    /// <summary>True when both name the same file: same device, same inode (hard links and symlinks included).</summary>
    public bool IsSameFileAs(PathStatus other) =>
        DeviceMajor == other.DeviceMajor && DeviceMinor == other.DeviceMinor && Inode == other.Inode;
}

public static partial class Interop
{
    // AT_SYMLINK_NOFOLLOW and STATX_BASIC_STATS come from Interop.FileAt.cs and Interop.FileMetadata.cs.

    // struct statx is 256 bytes with the same layout on every architecture, unlike struct stat.
    private const int StatxSize = 256;

    [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int StatxForPathStatus(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>statx(2) on a path; returns the errno (ENOENT, ENOTDIR, ...) instead of throwing.</summary>
    public static unsafe int TryGetPathStatus(string path, bool followSymlinks, out PathStatus status)
    {
        var buffer = stackalloc byte[StatxSize];
        int result;
        do
        {
            result = StatxForPathStatus(AT_FDCWD, path, followSymlinks ? 0 : AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, buffer);
        }
        while (result != 0 && Marshal.GetLastPInvokeError() == Errno.EINTR);

        if (result != 0)
        {
            status = default;
            return Marshal.GetLastPInvokeError();
        }

        var span = new ReadOnlySpan<byte>(buffer, StatxSize);
        status = new PathStatus(
            DeviceMajor: BinaryPrimitives.ReadUInt32LittleEndian(span[136..]),
            DeviceMinor: BinaryPrimitives.ReadUInt32LittleEndian(span[140..]),
            Inode: BinaryPrimitives.ReadUInt64LittleEndian(span[32..]),
            Mode: BinaryPrimitives.ReadUInt16LittleEndian(span[28..]),
            OwnerId: BinaryPrimitives.ReadUInt32LittleEndian(span[20..]),
            GroupId: BinaryPrimitives.ReadUInt32LittleEndian(span[24..]));
        return 0;
    }

    /// <summary>statx(2) that throws a <see cref="SyscallException"/> naming the path.</summary>
    public static PathStatus GetPathStatus(string path, bool followSymlinks = true)
    {
        var errno = TryGetPathStatus(path, followSymlinks, out var status);
        return errno == 0 ? status : throw new SyscallException("statx", errno, path);
    }
}
