using System.Runtime.InteropServices;

namespace Kubefly.Linux;

// Extended attributes: set on an open descriptor (never through a path that could be a symlink);
// the l* readers serve checks and tests.
public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "fsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int FsetxattrNative(SafeHandle fd, string name, byte* value, nuint size, int flags);

    [LibraryImport(Libc, EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint LgetxattrNative(string path, string name, byte* value, nuint size);

    [LibraryImport(Libc, EntryPoint = "llistxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint LlistxattrNative(string path, byte* list, nuint size);

    [LibraryImport(Libc, EntryPoint = "flistxattr", SetLastError = true)]
    private static unsafe partial nint FlistxattrNative(SafeHandle fd, byte* list, nuint size);

    /// <summary>Whether the open file has any extended attribute (an error counts as yes: the caller then does not share it).</summary>
    public static unsafe bool HasXattrs(SafeHandle fd) => FlistxattrNative(fd, null, 0) != 0;

    public static unsafe int TryFsetxattr(SafeHandle fd, string name, ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value)
        {
            return FsetxattrNative(fd, name, p, (nuint)value.Length, 0) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>The value of one attribute of <paramref name="path"/> itself (not a symlink's target); null when absent.</summary>
    public static unsafe byte[]? GetXattrNoFollow(string path, string name)
    {
        while (true)
        {
            var size = LgetxattrNative(path, name, null, 0);
            if (size < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.ENODATA)
                {
                    return null;
                }

                throw new SyscallException("lgetxattr", errno, $"{path} {name}");
            }

            var value = new byte[size];
            fixed (byte* p = value)
            {
                var read = LgetxattrNative(path, name, p, (nuint)value.Length);
                if (read >= 0)
                {
                    return value.AsSpan(0, (int)read).ToArray();
                }

                if (Marshal.GetLastPInvokeError() != Errno.ERANGE)
                {
                    throw SyscallException.FromLastError("lgetxattr", $"{path} {name}");
                }
            }
        }
    }

    /// <summary>The attribute names of <paramref name="path"/> itself (not a symlink's target).</summary>
    public static unsafe IReadOnlyList<string> ListXattrsNoFollow(string path)
    {
        while (true)
        {
            var size = LlistxattrNative(path, null, 0);
            if (size < 0)
            {
                throw SyscallException.FromLastError("llistxattr", path);
            }

            var list = new byte[size];
            fixed (byte* p = list)
            {
                var read = LlistxattrNative(path, p, (nuint)list.Length);
                if (read >= 0)
                {
                    return System.Text.Encoding.UTF8.GetString(list, 0, (int)read)
                        .Split('\0', StringSplitOptions.RemoveEmptyEntries);
                }

                if (Marshal.GetLastPInvokeError() != Errno.ERANGE)
                {
                    throw SyscallException.FromLastError("llistxattr", path);
                }
            }
        }
    }
}
