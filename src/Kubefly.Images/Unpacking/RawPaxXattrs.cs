using System.Buffers;
using System.Text;

namespace Kubefly.Images.Unpacking;

/// <summary>
/// Exact bytes of SCHILY.xattr.* values, read from the raw PAX header blocks of one entry. TarReader decodes
/// PAX values as UTF-8, which replaces bytes like 0x80 (common in security.capability) with U+FFFD; the
/// extraction keeps the raw header bytes it saw while TarReader read the entry's headers and parses them here.
/// </summary>
internal static class RawPaxXattrs
{
    private const int BlockSize = 512;
    private const string XattrPrefix = "SCHILY.xattr.";

    /// <summary>
    /// Parses the header blocks in <paramref name="recorded"/>, whose first byte sat at absolute stream offset
    /// <paramref name="startOffset"/> right after the previous entry's data (so the first header starts at the
    /// next block boundary). Returns null when the bytes do not parse as expected.
    /// </summary>
    public static Dictionary<string, byte[]>? Parse(ReadOnlySpan<byte> recorded, long startOffset)
    {
        var position = (int)((BlockSize - (startOffset % BlockSize)) % BlockSize);
        Dictionary<string, byte[]>? result = null;
        while (position + BlockSize <= recorded.Length)
        {
            var header = recorded.Slice(position, BlockSize);
            var type = (char)header[156];
            if (!TryParseSize(header.Slice(124, 12), out var size) || size > int.MaxValue)
            {
                return null;
            }

            var dataStart = position + BlockSize;
            if (type is not ('x' or 'g' or 'L' or 'K'))
            {
                // The entry's own header: nothing after it was recorded.
                return result ?? [];
            }

            if (dataStart + size > recorded.Length)
            {
                return null;
            }

            if (type == 'x' && !TryParseRecords(recorded.Slice(dataStart, (int)size), ref result))
            {
                return null;
            }

            position = dataStart + (int)((size + BlockSize - 1) / BlockSize * BlockSize);
        }

        return null;
    }

    private static bool TryParseRecords(ReadOnlySpan<byte> data, ref Dictionary<string, byte[]>? result)
    {
        while (data.Length > 0)
        {
            var space = data.IndexOf((byte)' ');
            if (space <= 0 || !int.TryParse(data[..space], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length)
                || length <= space + 1 || length > data.Length || data[length - 1] != (byte)'\n')
            {
                return false;
            }

            var record = data[(space + 1)..(length - 1)];
            var equals = record.IndexOf((byte)'=');
            if (equals < 0)
            {
                return false;
            }

            var key = Encoding.UTF8.GetString(record[..equals]);
            if (key.StartsWith(XattrPrefix, StringComparison.Ordinal))
            {
                result ??= new Dictionary<string, byte[]>(StringComparer.Ordinal);
                result[key[XattrPrefix.Length..]] = record[(equals + 1)..].ToArray();
            }

            data = data[length..];
        }

        return true;
    }

    private static bool TryParseSize(ReadOnlySpan<byte> field, out long size)
    {
        size = 0;
        if ((field[0] & 0x80) != 0)
        {
            // Base-256: never used for metadata headers of sane size.
            return false;
        }

        var digits = field.Trim((byte)' ').TrimEnd((byte)0).Trim((byte)' ');
        foreach (var b in digits)
        {
            if (b is < (byte)'0' or > (byte)'7')
            {
                return false;
            }

            size = (size * 8) + (b - '0');
        }

        return true;
    }
}

/// <summary>A growable byte buffer from the shared pool, for the header bytes of one entry.</summary>
internal sealed class HeaderRecorder : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(4096);

    public int Length { get; private set; }

    public long StartOffset { get; private set; }

    public bool Active { get; private set; }

    public ReadOnlySpan<byte> Recorded => _buffer.AsSpan(0, Length);

    public void Start(long offset)
    {
        Active = true;
        Length = 0;
        StartOffset = offset;
    }

    public void Stop() => Active = false;

    public void Append(ReadOnlySpan<byte> bytes, int limit)
    {
        if (Length + bytes.Length > limit)
        {
            // Headers this large are not kept (TarReader bounds them itself); recovery then just does not happen.
            Active = false;
            Length = 0;
            return;
        }

        if (Length + bytes.Length > _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, Length + bytes.Length));
            _buffer.AsSpan(0, Length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        bytes.CopyTo(_buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    public void Dispose() => ArrayPool<byte>.Shared.Return(_buffer);
}
