using System.Buffers.Binary;
using System.Text;
using Kubefly.Images.Unpacking;
using Kubefly.Oci;

namespace Kubefly.Images.Chunked;

/// <summary>
/// A stored layer's regular files in tar order, written when the layer is unpacked (the digests are of
/// the bytes written, inside a layer whose diff_id was verified), so a partial pull can find a file it
/// needs in any layer of any image, and rebuild the tar bytes between files it did not fetch. A magic
/// line, then one zstd frame of records: sha256 (32 bytes), size (8), entry signature (8), prefix
/// length (4, or -1 when not kept) and bytes, path length (2) and UTF-8 path. The table is only an
/// index: a damaged one is ignored, and what it says is checked again where it is used.
/// </summary>
public static class LayerFileTable
{
    private static ReadOnlySpan<byte> Magic => "kubefly-layer-files 2\n"u8;

    /// <summary>Larger tables are not read (uncompressed); <see cref="Write"/> stops keeping prefixes at half of it.</summary>
    public const long MaxTableBytes = 256L << 20;

    private const int FixedRecordBytes = 32 + 8 + 8 + 4;

    public static void Write(string path, IReadOnlyList<LayerFile> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        using var writer = new Writer(path);
        foreach (var file in files)
        {
            writer.Add(file);
        }
    }

    /// <summary>
    /// Streams records into a new table as the unpacker hands them over, so a layer's prefixes are never
    /// all in memory at once. Disposing finishes the file.
    /// </summary>
    public sealed class Writer : ILayerFileSink, IDisposable
    {
        private readonly FileStream _output;
        private readonly ZstdSharp.CompressionStream _records;
        private readonly byte[] _fixedPart = new byte[FixedRecordBytes];
        private long _written;

        public Writer(string path)
        {
            _output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            _output.Write(Magic);
            _records = new ZstdSharp.CompressionStream(_output, 3, leaveOpen: true);
        }

        public void Add(LayerFile file)
        {
            var name = Encoding.UTF8.GetBytes(file.Path);
            if (name.Length > ushort.MaxValue || file.Digest.IsEmpty)
            {
                return;
            }

            // A layer of very many files keeps its digests and loses only header reuse past this point.
            var prefix = _written < MaxTableBytes / 2 ? file.Prefix : null;
            Convert.FromHexString(file.Digest.Hex, _fixedPart.AsSpan(0, 32), out _, out _);
            BinaryPrimitives.WriteInt64LittleEndian(_fixedPart.AsSpan(32, 8), file.Size);
            BinaryPrimitives.WriteUInt64LittleEndian(_fixedPart.AsSpan(40, 8), file.Signature);
            BinaryPrimitives.WriteInt32LittleEndian(_fixedPart.AsSpan(48, 4), prefix?.Length ?? -1);
            _records.Write(_fixedPart);
            _records.Write(prefix);
            Span<byte> nameLength = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(nameLength, (ushort)name.Length);
            _records.Write(nameLength);
            _records.Write(name);
            _written += FixedRecordBytes + (prefix?.Length ?? 0) + 2 + name.Length;
        }

        public void Dispose()
        {
            _records.Dispose();
            _output.Dispose();
        }
    }

    /// <summary>
    /// Every file of the table at <paramref name="path"/>, in tar order. Null when the table is missing,
    /// too large or damaged (<paramref name="problem"/> says which, except for missing).
    /// </summary>
    public static List<LayerFile>? Read(string path, out string? problem)
    {
        var records = ReadRecords(path, out problem);
        if (records is null)
        {
            return null;
        }

        var files = new List<LayerFile>();
        return Scan(records, path, record => files.Add(record.ToFile()), out problem) ? files : null;
    }

    /// <summary>
    /// The files of the table at <paramref name="path"/> whose digest <paramref name="wanted"/> holds,
    /// without their prefixes; null as for <see cref="Read"/>.
    /// </summary>
    public static List<LayerFile>? ReadMatching(string path, IReadOnlySet<Digest> wanted, out string? problem)
    {
        var records = ReadRecords(path, out problem);
        if (records is null)
        {
            return null;
        }

        var files = new List<LayerFile>();
        return Scan(records, path, record =>
        {
            var digest = Digest.FromHashBytes(record.Digest);
            if (wanted.Contains(digest))
            {
                files.Add(new LayerFile(Encoding.UTF8.GetString(record.Name), record.Size, digest));
            }
        }, out problem) ? files : null;
    }

    private static byte[]? ReadRecords(string path, out string? problem)
    {
        problem = null;
        try
        {
            using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            Span<byte> magic = stackalloc byte[Magic.Length];
            if (input.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) != magic.Length || !magic.SequenceEqual(Magic))
            {
                problem = $"{path} is not a layer file table of this version";
                return null;
            }

            using var decompressed = new ZstdSharp.DecompressionStream(input, leaveOpen: true);
            var records = new MemoryStream();
            var chunk = new byte[1 << 16];
            int read;
            while ((read = decompressed.Read(chunk)) > 0)
            {
                if (records.Length + read > MaxTableBytes)
                {
                    problem = $"{path} holds more than {MaxTableBytes} bytes";
                    return null;
                }

                records.Write(chunk, 0, read);
            }

            return records.ToArray();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ZstdSharp.ZstdException or InvalidDataException)
        {
            problem = $"{path} is not a readable layer file table ({RuntimeText.Describe(e)})";
            return null;
        }
    }

    private static bool Scan(byte[] records, string path, Action<Record> each, out string? problem)
    {
        problem = null;
        var offset = 0;
        while (offset < records.Length)
        {
            var rest = records.AsSpan(offset);
            if (rest.Length < FixedRecordBytes)
            {
                problem = $"{path} is truncated";
                return false;
            }

            var size = BinaryPrimitives.ReadInt64LittleEndian(rest[32..40]);
            var prefixLength = BinaryPrimitives.ReadInt32LittleEndian(rest[48..52]);
            var afterPrefix = FixedRecordBytes + Math.Max(prefixLength, 0);
            if (size < 0 || prefixLength < -1 || prefixLength > LayerFile.MaxPrefixBytes || rest.Length < afterPrefix + 2)
            {
                problem = $"{path} is damaged";
                return false;
            }

            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(rest[afterPrefix..]);
            if (rest.Length < afterPrefix + 2 + nameLength)
            {
                problem = $"{path} is damaged";
                return false;
            }

            each(new Record(
                records.AsMemory(offset, 32),
                size,
                BinaryPrimitives.ReadUInt64LittleEndian(rest[40..48]),
                prefixLength < 0 ? (ReadOnlyMemory<byte>?)null : records.AsMemory(offset + FixedRecordBytes, prefixLength),
                records.AsMemory(offset + afterPrefix + 2, nameLength)));
            offset += afterPrefix + 2 + nameLength;
        }

        return true;
    }

    private readonly record struct Record(ReadOnlyMemory<byte> DigestBytes, long Size, ulong Signature, ReadOnlyMemory<byte>? Prefix, ReadOnlyMemory<byte> NameBytes)
    {
        public ReadOnlySpan<byte> Digest => DigestBytes.Span;

        public ReadOnlySpan<byte> Name => NameBytes.Span;

        public LayerFile ToFile() => new(Encoding.UTF8.GetString(Name), Size, Oci.Digest.FromHashBytes(Digest))
        {
            Signature = Signature,
            Prefix = Prefix?.ToArray(),
        };
    }
}
