namespace Kubefly.Images.Unpacking;

/// <summary>
/// The exact bytes of an entry's name and link name, from the raw header blocks the extraction recorded
/// (see <see cref="RawPaxXattrs"/>): a PAX path/linkpath record, a GNU long name (L, K), or the ustar
/// name (with its prefix) and linkname fields. TarReader decodes names as UTF-8 and replaces invalid
/// bytes with U+FFFD, so two names that differ only in such bytes would become one file.
/// </summary>
internal static class RawEntryNames
{
    private const int BlockSize = 512;

    /// <summary>The raw (name, link name) of the entry whose headers are in <paramref name="recorded"/>; null parts when not found.</summary>
    public static (byte[]? Name, byte[]? LinkName) Parse(ReadOnlySpan<byte> recorded, long startOffset)
    {
        var position = (int)((BlockSize - (startOffset % BlockSize)) % BlockSize);
        byte[]? name = null, link = null;
        while (position + BlockSize <= recorded.Length)
        {
            var header = recorded.Slice(position, BlockSize);
            var type = (char)header[156];
            var size = ParseOctal(header.Slice(124, 12));
            var dataStart = position + BlockSize;
            if (type is not ('x' or 'g' or 'L' or 'K'))
            {
                name ??= UstarName(header);
                link ??= UntilNul(header.Slice(157, 100)).ToArray();
                return (name, link);
            }

            if (size < 0 || dataStart + size > recorded.Length)
            {
                return (null, null);
            }

            var data = recorded.Slice(dataStart, (int)size);
            switch (type)
            {
                case 'L':
                    name = UntilNul(data).ToArray();
                    break;
                case 'K':
                    link = UntilNul(data).ToArray();
                    break;
                case 'x':
                    ParsePax(data, ref name, ref link);
                    break;
            }

            position = dataStart + (int)((size + BlockSize - 1) / BlockSize * BlockSize);
        }

        return (null, null);
    }

    public static bool IsValidUtf8(ReadOnlySpan<byte> bytes) => System.Text.Unicode.Utf8.IsValid(bytes);

    private static byte[] UstarName(ReadOnlySpan<byte> header)
    {
        var name = UntilNul(header[..100]);
        if (!header.Slice(257, 5).SequenceEqual("ustar"u8))
        {
            return name.ToArray();
        }

        var prefix = UntilNul(header.Slice(345, 155));
        return prefix.IsEmpty ? name.ToArray() : [.. prefix, (byte)'/', .. name];
    }

    private static void ParsePax(ReadOnlySpan<byte> data, ref byte[]? name, ref byte[]? link)
    {
        while (!data.IsEmpty)
        {
            var space = data.IndexOf((byte)' ');
            if (space <= 0 || !int.TryParse(data[..space], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length)
                || length <= space + 1 || length > data.Length)
            {
                return;
            }

            var record = data[(space + 1)..(length - 1)];
            if (record.StartsWith("path="u8))
            {
                name = record[5..].ToArray();
            }
            else if (record.StartsWith("linkpath="u8))
            {
                link = record[9..].ToArray();
            }

            data = data[length..];
        }
    }

    private static ReadOnlySpan<byte> UntilNul(ReadOnlySpan<byte> field)
    {
        var nul = field.IndexOf((byte)0);
        return nul < 0 ? field : field[..nul];
    }

    private static long ParseOctal(ReadOnlySpan<byte> field)
    {
        long value = 0;
        foreach (var b in field.Trim((byte)' ').TrimEnd((byte)0).Trim((byte)' '))
        {
            if (b is < (byte)'0' or > (byte)'7' || value > (long.MaxValue >> 3))
            {
                return -1;
            }

            value = (value * 8) + (b - '0');
        }

        return value;
    }
}
