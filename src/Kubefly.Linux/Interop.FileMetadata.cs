using System.Runtime.InteropServices;

namespace Kubefly.Linux;

// Ownership, permissions, times and statx, on descriptors or with AT_SYMLINK_NOFOLLOW: nothing here
// follows a symlink in the final component.
public static partial class Interop
{
    /// <summary>utimensat/futimens: leave this timestamp unchanged.</summary>
    public const long UTIME_OMIT = (1L << 30) - 2;

    private const uint STATX_BASIC_STATS = 0x7ff;
    private const long SYS_fchmodat2 = 452;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>The kernel's struct statx (fixed layout on every architecture), 256 bytes.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    internal struct StatxBuffer
    {
        [FieldOffset(16)]
        public uint Nlink;
        [FieldOffset(20)]
        public uint Uid;
        [FieldOffset(24)]
        public uint Gid;
        [FieldOffset(28)]
        public ushort Mode;
        [FieldOffset(32)]
        public ulong Inode;
        [FieldOffset(40)]
        public ulong Size;
        [FieldOffset(64)]
        public long AtimeSeconds;
        [FieldOffset(72)]
        public uint AtimeNanoseconds;
        [FieldOffset(112)]
        public long MtimeSeconds;
        [FieldOffset(120)]
        public uint MtimeNanoseconds;
        [FieldOffset(128)]
        public uint RdevMajor;
        [FieldOffset(132)]
        public uint RdevMinor;
        [FieldOffset(136)]
        public uint DevMajor;
        [FieldOffset(140)]
        public uint DevMinor;
    }

    [LibraryImport(Libc, EntryPoint = "fchown", SetLastError = true)]
    private static partial int FchownNative(SafeHandle fd, uint uid, uint gid);

    [LibraryImport(Libc, EntryPoint = "fchownat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FchownatNative(SafeHandle dirfd, string path, uint uid, uint gid, int flags);

    [LibraryImport(Libc, EntryPoint = "fchmod", SetLastError = true)]
    private static partial int FchmodNative(SafeHandle fd, uint mode);

    [LibraryImport(Libc, EntryPoint = "syscall", SetLastError = true)]
    private static unsafe partial long SyscallFchmodat2(long number, int dirfd, byte* path, uint mode, int flags);

    [LibraryImport(Libc, EntryPoint = "futimens", SetLastError = true)]
    private static unsafe partial int FutimensNative(SafeHandle fd, Timespec* times);

    [LibraryImport(Libc, EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int UtimensatNative(SafeHandle dirfd, string path, Timespec* times, int flags);

    [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int StatxNative(SafeHandle dirfd, string path, int flags, uint mask, StatxBuffer* buffer);

    [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int StatxPathNative(int dirfd, string path, int flags, uint mask, StatxBuffer* buffer);

    public static int TryFchown(SafeHandle fd, uint uid, uint gid) =>
        FchownNative(fd, uid, gid) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>fchownat(2) with AT_SYMLINK_NOFOLLOW: a symlink's own owner changes, never its target's.</summary>
    public static int TryLchownat(SafeHandle directory, string name, uint uid, uint gid) =>
        FchownatNative(directory, name, uid, gid, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : Marshal.GetLastPInvokeError();

    public static int TryFchmod(SafeHandle fd, uint mode) =>
        FchmodNative(fd, mode) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>
    /// fchmodat2(2) with AT_SYMLINK_NOFOLLOW (Linux 6.6+): changes the mode of a node that cannot be opened
    /// (device, fifo) without following a symlink in its place. EOPNOTSUPP when the name is a symlink.
    /// </summary>
    public static unsafe int TryFchmodatNoFollow(SafeHandle directory, string name, uint mode)
    {
        var bytes = Utf8Z(name);
        var addRef = false;
        try
        {
            directory.DangerousAddRef(ref addRef);
            fixed (byte* p = bytes)
            {
                return SyscallFchmodat2(SYS_fchmodat2, (int)directory.DangerousGetHandle(), p, mode, AT_SYMLINK_NOFOLLOW) == 0
                    ? 0
                    : Marshal.GetLastPInvokeError();
            }
        }
        finally
        {
            if (addRef)
            {
                directory.DangerousRelease();
            }
        }
    }

    /// <summary>futimens(2): access and modification times of an open file (UTIME_OMIT nanoseconds leave one unchanged).</summary>
    public static unsafe int TryFutimens(SafeHandle fd, long accessSeconds, long accessNanoseconds, long modifySeconds, long modifyNanoseconds)
    {
        var times = stackalloc Timespec[2];
        times[0] = new Timespec { Seconds = accessSeconds, Nanoseconds = accessNanoseconds };
        times[1] = new Timespec { Seconds = modifySeconds, Nanoseconds = modifyNanoseconds };
        return FutimensNative(fd, times) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>utimensat(2) with AT_SYMLINK_NOFOLLOW: a symlink's own times, never its target's.</summary>
    public static unsafe int TryLutimensat(SafeHandle directory, string name, long accessSeconds, long accessNanoseconds, long modifySeconds, long modifyNanoseconds)
    {
        var times = stackalloc Timespec[2];
        times[0] = new Timespec { Seconds = accessSeconds, Nanoseconds = accessNanoseconds };
        times[1] = new Timespec { Seconds = modifySeconds, Nanoseconds = modifyNanoseconds };
        return UtimensatNative(directory, name, times, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>statx(2) of <paramref name="name"/> under <paramref name="directory"/> without following a final symlink;
    /// an empty name describes the descriptor itself (AT_EMPTY_PATH).</summary>
    public static unsafe int TryLstatAt(SafeHandle directory, string name, out FileStatus status)
    {
        StatxBuffer buffer;
        var flags = AT_SYMLINK_NOFOLLOW | (name.Length == 0 ? AT_EMPTY_PATH : 0);
        if (StatxNative(directory, name, flags, STATX_BASIC_STATS, &buffer) != 0)
        {
            status = default;
            return Marshal.GetLastPInvokeError();
        }

        status = FileStatus.From(in buffer);
        return 0;
    }

    /// <summary>lstat of a path string (for tests and diagnostics; extraction itself never resolves path strings).</summary>
    public static unsafe FileStatus Lstat(string path)
    {
        StatxBuffer buffer;
        if (StatxPathNative(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &buffer) != 0)
        {
            throw SyscallException.FromLastError("statx", path);
        }

        return FileStatus.From(in buffer);
    }

    /// <summary>What statx says about one inode.</summary>
    public readonly record struct FileStatus(
        uint Mode,
        uint Uid,
        uint Gid,
        ulong Inode,
        ulong DeviceId,
        uint LinkCount,
        long Size,
        uint RdevMajor,
        uint RdevMinor,
        long ModifySeconds,
        uint ModifyNanoseconds,
        long AccessSeconds,
        uint AccessNanoseconds)
    {
        public uint FileType => Mode & S_IFMT;

        public uint Permissions => Mode & 0xFFF;

        public bool IsDirectory => FileType == S_IFDIR;

        public bool IsRegularFile => FileType == S_IFREG;

        public bool IsSymbolicLink => FileType == S_IFLNK;

        internal static FileStatus From(in StatxBuffer b) => new(
            b.Mode,
            b.Uid,
            b.Gid,
            b.Inode,
            ((ulong)b.DevMajor << 32) | b.DevMinor,
            b.Nlink,
            (long)b.Size,
            b.RdevMajor,
            b.RdevMinor,
            b.MtimeSeconds,
            b.MtimeNanoseconds,
            b.AtimeSeconds,
            b.AtimeNanoseconds);
    }
}
