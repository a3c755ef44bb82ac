using System.Runtime.InteropServices;

namespace Kubefly.Linux;

// getdents64 into a caller's buffer, names left as bytes (Interop.Directory.cs decodes them as UTF-8,
// which is lossy for names that are not): what a remover must pass back to unlinkat unchanged.
public static partial class Interop
{
    public const byte DT_UNKNOWN = 0;
    public const byte DT_DIR = 4;

    /// <summary>One batch of raw linux_dirent64 records; <paramref name="read"/> is 0 at the end. Returns the errno.</summary>
    public static unsafe int TryReadDirectoryEntries(SafeHandle directory, Span<byte> buffer, out int read)
    {
        fixed (byte* p = buffer)
        {
            nint result;
            do
            {
                result = Getdents64Native(directory, p, (nuint)buffer.Length);
            }
            while (result < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR);

            read = result < 0 ? 0 : (int)result;
            return result < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
    }

    /// <summary>
    /// The record at <paramref name="offset"/> of a getdents64 batch: its name with the terminating NUL
    /// (ready for the *at calls), its d_type, and the offset of the next record.
    /// </summary>
    public static int ParseDirectoryEntry(ReadOnlySpan<byte> batch, int offset, out ReadOnlySpan<byte> nameZ, out byte type)
    {
        // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
        var recordLength = MemoryMarshal.Read<ushort>(batch[(offset + 16)..]);
        type = batch[offset + 18];
        var name = batch.Slice(offset + 19, recordLength - 19);
        nameZ = name[..(name.IndexOf((byte)0) + 1)];
        return offset + recordLength;
    }
}
