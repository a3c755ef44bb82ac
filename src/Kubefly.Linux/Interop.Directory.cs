using System.Runtime.InteropServices;
using System.Text;

namespace Kubefly.Linux;

// Listing a directory from a descriptor (getdents64), so a caller that opened it with O_NOFOLLOW
// enumerates exactly that directory, whatever happens to its path meanwhile.
public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "getdents64", SetLastError = true)]
    private static unsafe partial nint Getdents64Native(SafeHandle fd, byte* buffer, nuint count);

    /// <summary>The names in an open directory, without "." and "..".</summary>
    public static unsafe List<string> ReadDirectoryNames(SafeHandle directory, string pathForErrors)
    {
        var names = new List<string>();
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(32 * 1024);
        try
        {
            fixed (byte* p = buffer)
            {
                while (true)
                {
                    var read = Getdents64Native(directory, p, (nuint)buffer.Length);
                    if (read < 0)
                    {
                        if (Marshal.GetLastPInvokeError() == Errno.EINTR)
                        {
                            continue;
                        }

                        throw SyscallException.FromLastError("getdents64", pathForErrors);
                    }

                    if (read == 0)
                    {
                        return names;
                    }

                    // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
                    for (nint offset = 0; offset < read;)
                    {
                        var recordLength = *(ushort*)(p + offset + 16);
                        var nameStart = p + offset + 19;
                        var nameLength = new ReadOnlySpan<byte>(nameStart, recordLength - 19).IndexOf((byte)0);
                        var name = new ReadOnlySpan<byte>(nameStart, nameLength);
                        if (!name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8))
                        {
                            names.Add(Encoding.UTF8.GetString(name));
                        }

                        offset += recordLength;
                    }
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
