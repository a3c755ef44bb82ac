using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Kubefly.Images.Unpacking;

/// <summary>
/// A tar entry's header-relevant metadata, as both a stored layer (from its tar headers) and a
/// zstd:chunked table of contents (from its JSON) can state it: two entries with equal signatures very
/// likely have equal header bytes. Only a hint: whatever is rebuilt from it is hashed against the diff_id.
/// </summary>
public readonly record struct EntrySignature(string Type, string Name, int Mode, long Uid, long Gid, long ModTimeSeconds, long Size, string LinkName)
{
    /// <summary>The table-of-contents type name of a tar entry type flag ("reg", "dir", ...), or the flag itself.</summary>
    public static string TypeName(char flag) => flag switch
    {
        '0' or '\0' or '7' => "reg",
        '5' => "dir",
        '2' => "symlink",
        '1' => "hardlink",
        '3' => "char",
        '4' => "block",
        '6' => "fifo",
        _ => flag.ToString(),
    };

    /// <summary>A running digest of the signatures of the entries between two files' contents.</summary>
    public void AppendTo(IncrementalHash hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        var text = $"{Type}\0{Name}\0{Mode & 0xFFF}\0{Uid}\0{Gid}\0{ModTimeSeconds}\0{Size}\0{LinkName}\n";
        hash.AppendData(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>The first 8 bytes of a finished signature digest, as the file table keeps it.</summary>
    public static ulong Finish(IncrementalHash hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        Span<byte> digest = stackalloc byte[32];
        hash.GetHashAndReset(digest);
        return BinaryPrimitives.ReadUInt64LittleEndian(digest);
    }
}
