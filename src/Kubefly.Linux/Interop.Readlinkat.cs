using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "readlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint ReadlinkatNative(SafeFileHandle directory, string name, byte* buffer, nuint size);

    [LibraryImport(Libc, EntryPoint = "readlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint ReadlinkNative(string path, byte* buffer, nuint size);

    /// <summary>readlinkat(2) of <paramref name="name"/> in <paramref name="directory"/>.</summary>
    public static unsafe string Readlinkat(SafeFileHandle directory, string name, string pathForErrors)
    {
        var buffer = new byte[4096];
        fixed (byte* p = buffer)
        {
            var length = ReadlinkatNative(directory, name, p, (nuint)buffer.Length);
            if (length < 0)
            {
                throw SyscallException.FromLastError("readlinkat", pathForErrors);
            }

            return Encoding.UTF8.GetString(buffer, 0, (int)length);
        }
    }

    /// <summary>readlink(2), e.g. of /proc/self/fd/N to learn the path the kernel has for a descriptor.</summary>
    public static unsafe string Readlink(string path)
    {
        var buffer = new byte[4096];
        fixed (byte* p = buffer)
        {
            var length = ReadlinkNative(path, p, (nuint)buffer.Length);
            if (length < 0)
            {
                throw SyscallException.FromLastError("readlink", path);
            }

            return Encoding.UTF8.GetString(buffer, 0, (int)length);
        }
    }
}
