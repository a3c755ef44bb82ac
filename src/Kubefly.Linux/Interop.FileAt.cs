using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

// The *at family: every call names one component relative to a directory descriptor, so a caller that
// resolved the directory safely (openat2 RESOLVE_IN_ROOT) never walks a path string again.
// The Try* forms return 0 or the errno, for callers that react to EEXIST/ENOENT/EISDIR.
public static partial class Interop
{
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_REMOVEDIR = 0x200;
    public const int AT_EMPTY_PATH = 0x1000;

    public const uint S_IFMT = 0xF000;
    public const uint S_IFSOCK = 0xC000;
    public const uint S_IFLNK = 0xA000;
    public const uint S_IFREG = 0x8000;
    public const uint S_IFBLK = 0x6000;
    public const uint S_IFDIR = 0x4000;
    public const uint S_IFCHR = 0x2000;
    public const uint S_IFIFO = 0x1000;

    [LibraryImport(Libc, EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenatNative(SafeHandle dirfd, string path, int flags, uint mode);

    [LibraryImport(Libc, EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkdiratNative(SafeHandle dirfd, string path, uint mode);

    [LibraryImport(Libc, EntryPoint = "symlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SymlinkatNative(string target, SafeHandle newdirfd, string linkpath);

    [LibraryImport(Libc, EntryPoint = "linkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LinkatNative(SafeHandle olddirfd, string oldpath, SafeHandle newdirfd, string newpath, int flags);

    [LibraryImport(Libc, EntryPoint = "mknodat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MknodatNative(SafeHandle dirfd, string path, uint mode, ulong dev);

    [LibraryImport(Libc, EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnlinkatNative(SafeHandle dirfd, string path, int flags);

    /// <summary>openat(2) with O_CLOEXEC added; returns the errno (0 on success).</summary>
    public static int TryOpenat(SafeHandle directory, string name, int flags, uint mode, out SafeFileHandle handle)
    {
        int fd;
        do
        {
            fd = OpenatNative(directory, name, flags | O_CLOEXEC, mode);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR);

        return HandleOrErrno(fd, out handle);
    }

    /// <summary>The descriptor an open returned as a handle (0), or the errno it left (and an invalid handle).</summary>
    private static int HandleOrErrno(int fd, out SafeFileHandle handle)
    {
        if (fd < 0)
        {
            handle = new SafeFileHandle();
            return Marshal.GetLastPInvokeError();
        }

        handle = new SafeFileHandle(fd, ownsHandle: true);
        return 0;
    }

    public static int TryMkdirat(SafeHandle directory, string name, uint mode) =>
        MkdiratNative(directory, name, mode) == 0 ? 0 : Marshal.GetLastPInvokeError();

    public static int TrySymlinkat(string target, SafeHandle directory, string name) =>
        SymlinkatNative(target, directory, name) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>linkat(2) without AT_SYMLINK_FOLLOW: a symlink named by <paramref name="oldName"/> is linked itself, never followed.</summary>
    public static int TryLinkat(SafeHandle oldDirectory, string oldName, SafeHandle newDirectory, string newName) =>
        LinkatNative(oldDirectory, oldName, newDirectory, newName, 0) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>
    /// A new name for the open file <paramref name="file"/> itself (linkat with AT_EMPTY_PATH, which needs
    /// CAP_DAC_READ_SEARCH): no path is looked up again, so the inode linked is the one opened.
    /// </summary>
    public static int TryLinkDescriptor(SafeHandle file, SafeHandle newDirectory, string newName) =>
        LinkatNative(file, string.Empty, newDirectory, newName, AT_EMPTY_PATH) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>mknodat(2); <paramref name="mode"/> carries the file type (S_IFCHR, S_IFBLK, S_IFIFO).</summary>
    public static int TryMknodat(SafeHandle directory, string name, uint mode, uint major, uint minor) =>
        MknodatNative(directory, name, mode, MakeDevice(major, minor)) == 0 ? 0 : Marshal.GetLastPInvokeError();

    public static int TryUnlinkat(SafeHandle directory, string name, int flags) =>
        UnlinkatNative(directory, name, flags) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>glibc's gnu_dev_makedev: the 64-bit dev_t encoding of a major/minor pair.</summary>
    public static ulong MakeDevice(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) |
        ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);
}
