using System.Buffers.Binary;
using System.Globalization;
using Kubefly.Oci;

namespace Kubefly.Images.Unpacking;

/// <summary>
/// Sits in front of TarReader and reads each 512-byte header block itself as it passes, so a metadata
/// record is bounded before anything buffers it: System.Formats.Tar reads a PAX header (x, g) or a GNU
/// long name (L, K) into memory whole, whatever size its header declares (a 600 MB PAX comment costs
/// gigabytes of RSS, a 1 GB one throws OutOfMemoryException). Nothing is copied but the header block
/// and a PAX header's own records (bounded), which may override the next entry's size and so where the
/// next header starts. TarReader still does all the parsing that counts.
///
/// One byte is changed on its way: a newline inside a PAX value. PAX records are length-prefixed, so a
/// value may hold 0x0A (a security.capability or other binary xattr often does), but TarReader splits
/// records at the first newline and refuses the whole header. Such a byte is handed to TarReader as a
/// space; the extraction reads xattr values from the raw bytes recorded before this stream
/// (see RawPaxXattrs), so nothing is lost. A newline in a file or link name is refused instead, since
/// TarReader would report that name changed.
/// </summary>
internal sealed class TarHeaderGuard : ReadOnlyStream
{
    private const int BlockSize = 512;

    private readonly Stream _inner;
    private readonly long _maxMetadataBytes;
    private readonly Func<string, Exception> _fail;
    private readonly byte[] _header = new byte[BlockSize];
    private int _headerFill;
    private long _position;
    private long _nextHeader;
    private long _headerStart;

    // The data of the PAX header (x or g) being read, for its "size" record; and the size an 'x' sets for the next entry.
    private byte[]? _pax;
    private int _paxFill;
    private bool _paxIsGlobal;
    private long? _paxSize;

    // Where the PAX record being scanned starts, ends (-1 until its length is read) and its value starts (-1 until '=').
    private int _recordStart;
    private int _recordEnd = -1;
    private int _valueStart = -1;

    /// <param name="fail">Builds the exception for a refused header; its argument says what and where.</param>
    public TarHeaderGuard(Stream inner, long maxMetadataBytes, Func<string, Exception> fail)
    {
        _inner = inner;
        _maxMetadataBytes = maxMetadataBytes;
        _fail = fail;
    }

    public override int Read(Span<byte> buffer)
    {
        var read = _inner.Read(buffer);
        Inspect(buffer[..read]);
        return read;
    }

    private void Inspect(Span<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            if (_position < _nextHeader)
            {
                // Entry data (or metadata): skipped, except a PAX header's records.
                var skip = (int)Math.Min(bytes.Length, _nextHeader - _position);
                if (_pax is not null)
                {
                    var take = Math.Min(skip, _pax.Length - _paxFill);
                    bytes[..take].CopyTo(_pax.AsSpan(_paxFill));
                    ScanRecords(bytes[..take]);
                    if (_paxFill == _pax.Length)
                    {
                        if (!_paxIsGlobal)
                        {
                            _paxSize = PaxSize(_pax.AsSpan(0, _paxFill));
                        }

                        _pax = null;
                    }
                }

                bytes = bytes[skip..];
                _position += skip;
                continue;
            }

            if (_headerFill == 0)
            {
                _headerStart = _position;
            }

            var copy = Math.Min(bytes.Length, BlockSize - _headerFill);
            bytes[..copy].CopyTo(_header.AsSpan(_headerFill));
            _headerFill += copy;
            _position += copy;
            bytes = bytes[copy..];
            if (_headerFill == BlockSize)
            {
                _headerFill = 0;
                OnHeader();
            }
        }
    }

    private void OnHeader()
    {
        _nextHeader = _headerStart + BlockSize;
        if (!_header.AsSpan().ContainsAnyExcept((byte)0))
        {
            // An end-of-archive block; TarReader stops after the second one.
            return;
        }

        var type = (char)_header[156];
        if (!TryParseNumber(_header.AsSpan(124, 12), out var size) || size < 0)
        {
            throw _fail($"malformed tar header at offset {_headerStart}: invalid size field");
        }

        if (type is 'x' or 'g' or 'L' or 'K')
        {
            if (size > _maxMetadataBytes)
            {
                throw _fail($"{Describe(type)} at offset {_headerStart} declares {size} bytes, over the limit of {_maxMetadataBytes} bytes for a tar header");
            }

            if (type is 'x' or 'g' && size > 0)
            {
                _pax = new byte[size];
                _paxFill = 0;
                _paxIsGlobal = type == 'g';
                _recordStart = 0;
                _recordEnd = -1;
                _valueStart = -1;
            }
        }
        else
        {
            // An entry's own header: a preceding PAX "size" record overrides its size field (as TarReader reads it).
            if (_paxSize is { } paxSize)
            {
                size = paxSize;
            }

            _paxSize = null;
        }

        _nextHeader += (size + BlockSize - 1) / BlockSize * BlockSize;
    }

    /// <summary>
    /// Follows the PAX records through the bytes just copied into _pax (the same bytes, in place, on their
    /// way to TarReader): a newline inside a value becomes a space; inside a name, the layer is refused.
    /// A record whose length does not parse ends the scan; TarReader reports the header as malformed.
    /// </summary>
    private void ScanRecords(Span<byte> passing)
    {
        for (var k = 0; k < passing.Length; k++)
        {
            var i = _paxFill + k;
            var b = _pax![i];
            if (_recordEnd == -2)
            {
                continue;
            }

            if (_recordEnd < 0)
            {
                if (b == (byte)' ')
                {
                    _recordEnd = int.TryParse(_pax.AsSpan(_recordStart, i - _recordStart), NumberStyles.None, CultureInfo.InvariantCulture, out var length) && length > i - _recordStart + 1
                        ? _recordStart + length
                        : -2;
                }

                continue;
            }

            if (i == _recordEnd - 1)
            {
                _recordStart = _recordEnd;
                _recordEnd = -1;
                _valueStart = -1;
                continue;
            }

            if (_valueStart < 0)
            {
                if (b == (byte)'=')
                {
                    _valueStart = i + 1;
                }

                continue;
            }

            if (b == (byte)'\n')
            {
                var key = _pax.AsSpan(_recordStart, _valueStart - 1 - _recordStart);
                key = key[(key.IndexOf((byte)' ') + 1)..];
                if (key.SequenceEqual("path"u8) || key.SequenceEqual("linkpath"u8))
                {
                    throw _fail($"the PAX header at offset {_headerStart} gives a {(key[0] == (byte)'p' ? "file" : "link")} name holding a newline; kubefly refuses names it cannot pass on unchanged");
                }

                passing[k] = (byte)' ';
            }
        }

        _paxFill += passing.Length;
    }

    private static string Describe(char type) => type switch
    {
        'x' => "a PAX extended header",
        'g' => "a PAX global header",
        'L' => "a GNU long name",
        _ => "a GNU long link name",
    };

    /// <summary>The "size" record of PAX header data, or null (malformed records are TarReader's to report).</summary>
    private static long? PaxSize(ReadOnlySpan<byte> data)
    {
        long? size = null;
        while (!data.IsEmpty)
        {
            var space = data.IndexOf((byte)' ');
            if (space <= 0 || !int.TryParse(data[..space], NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length <= space + 1 || length > data.Length)
            {
                return size;
            }

            var record = data[(space + 1)..(length - 1)];
            if (record.StartsWith("size="u8) && long.TryParse(record[5..], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                size = value;
            }

            data = data[length..];
        }

        return size;
    }

    /// <summary>A numeric header field: octal digits (space or NUL padded), or GNU base-256 when the high bit is set.</summary>
    private static bool TryParseNumber(ReadOnlySpan<byte> field, out long value)
    {
        value = 0;
        if ((field[0] & 0x80) != 0)
        {
            if ((field[0] & 0x7f) != 0 || field[1..4].ContainsAnyExcept((byte)0))
            {
                // Negative, or beyond 2^63: no real size.
                return false;
            }

            value = BinaryPrimitives.ReadInt64BigEndian(field[4..]);
            return value >= 0;
        }

        var digits = field.Trim((byte)' ').TrimEnd((byte)0).Trim((byte)' ');
        foreach (var b in digits)
        {
            if (b is < (byte)'0' or > (byte)'7' || value > (long.MaxValue >> 3))
            {
                return false;
            }

            value = (value * 8) + (b - '0');
        }

        return true;
    }
}
