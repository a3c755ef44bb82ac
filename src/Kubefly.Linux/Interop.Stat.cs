using System.Runtime.InteropServices;

namespace Kubefly.Linux;

// statx that follows symlinks (host paths an operator named) and a throwing form for descriptors;
// the no-follow forms and FileStatus live in Interop.FileMetadata.cs.
public static partial class Interop
{
    /// <summary>statx(2) of a path, following symlinks.</summary>
    public static unsafe FileStatus Stat(string path)
    {
        StatxBuffer buffer;
        if (StatxPathNative(AT_FDCWD, path, 0, STATX_BASIC_STATS, &buffer) != 0)
        {
            throw SyscallException.FromLastError("statx", path);
        }

        return FileStatus.From(in buffer);
    }

    /// <summary>statx(2) of an open descriptor (O_PATH works), throwing with <paramref name="pathForErrors"/>.</summary>
    public static FileStatus Fstat(SafeHandle fd, string pathForErrors)
    {
        var errno = TryLstatAt(fd, string.Empty, out var status);
        return errno == 0 ? status : throw new SyscallException("statx", errno, pathForErrors);
    }

    /// <summary>Same inode on the same device.</summary>
    public static bool SameFile(FileStatus a, FileStatus b) => a.Inode == b.Inode && a.DeviceId == b.DeviceId;

    public static bool IsSocket(FileStatus status) => status.FileType == S_IFSOCK;

    /// <summary>"directory", "fifo", ... for error messages.</summary>
    public static string DescribeFileType(FileStatus status) => status.FileType switch
    {
        S_IFDIR => "directory",
        S_IFREG => "regular file",
        S_IFLNK => "symlink",
        S_IFSOCK => "socket",
        S_IFIFO => "fifo",
        S_IFCHR => "character device",
        S_IFBLK => "block device",
        _ => $"file type 0x{status.FileType:x}",
    };
}
