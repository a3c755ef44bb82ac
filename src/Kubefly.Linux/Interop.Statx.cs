using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

/// <summary>The fields of statx(2) kubefly uses.</summary>
public readonly record struct FileStatus(uint Mode, ulong Inode, ulong Size, uint DeviceMajor, uint DeviceMinor, ulong MountId)
{
    public const uint S_IFMT = 0xF000;
    public const uint S_IFSOCK = 0xC000;
    public const uint S_IFLNK = 0xA000;
    public const uint S_IFREG = 0x8000;
    public const uint S_IFDIR = 0x4000;
    public const uint S_IFIFO = 0x1000;

    public uint Type => Mode & S_IFMT;

    public bool IsDirectory => Type == S_IFDIR;

    public bool IsRegularFile => Type == S_IFREG;

    public bool IsSymbolicLink => Type == S_IFLNK;

    public bool IsSocket => Type == S_IFSOCK;

    /// <summary>Same file: device and inode match.</summary>
    public bool SameFileAs(FileStatus other) =>
        Inode == other.Inode && DeviceMajor == other.DeviceMajor && DeviceMinor == other.DeviceMinor;

    public string DescribeType() => Type switch
    {
        S_IFDIR => "directory",
        S_IFREG => "regular file",
        S_IFLNK => "symlink",
        S_IFSOCK => "socket",
        S_IFIFO => "fifo",
        0x2000 => "character device",
        0x6000 => "block device",
        _ => $"file type 0{Type:o}",
    };
}

public static partial class Interop
{
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_EMPTY_PATH = 0x1000;

    private const uint STATX_BASIC_STATS = 0x7FF;
    private const uint STATX_MNT_ID = 0x1000;
    private const int StatxBufferSize = 256;

    [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int StatxNative(int directory, string path, int flags, uint mask, byte* buffer);

    /// <summary>statx(2) of an open descriptor (O_PATH works).</summary>
    public static FileStatus Fstat(SafeFileHandle fd, string pathForErrors)
    {
        var added = false;
        try
        {
            fd.DangerousAddRef(ref added);
            var errno = TryStatx((int)fd.DangerousGetHandle(), string.Empty, AT_EMPTY_PATH, out var status);
            return errno == 0 ? status : throw new SyscallException("statx", errno, pathForErrors);
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    /// <summary>statx(2) of <paramref name="name"/> in <paramref name="directory"/> without following a final symlink; errno or 0.</summary>
    public static int TryLstatAt(SafeFileHandle directory, string name, out FileStatus status)
    {
        var added = false;
        try
        {
            directory.DangerousAddRef(ref added);
            return TryStatx((int)directory.DangerousGetHandle(), name, AT_SYMLINK_NOFOLLOW, out status);
        }
        finally
        {
            if (added)
            {
                directory.DangerousRelease();
            }
        }
    }

    /// <summary>statx(2) of a path, following symlinks (host paths the operator named).</summary>
    public static FileStatus Stat(string path)
    {
        var errno = TryStatx(AT_FDCWD, path, 0, out var status);
        return errno == 0 ? status : throw new SyscallException("statx", errno, path);
    }

    private static unsafe int TryStatx(int directory, string path, int flags, out FileStatus status)
    {
        var buffer = stackalloc byte[StatxBufferSize];
        if (StatxNative(directory, path, flags, STATX_BASIC_STATS | STATX_MNT_ID, buffer) != 0)
        {
            status = default;
            return Marshal.GetLastPInvokeError();
        }

        status = new FileStatus(
            Mode: *(ushort*)(buffer + 28),
            Inode: *(ulong*)(buffer + 32),
            Size: *(ulong*)(buffer + 40),
            DeviceMajor: *(uint*)(buffer + 136),
            DeviceMinor: *(uint*)(buffer + 140),
            MountId: *(ulong*)(buffer + 144));
        return 0;
    }
}
