using System.Globalization;
using System.Text;
using Kubefly.Images.Sources;
using Kubefly.Oci;

namespace Kubefly.Images.Registry;

/// <summary>
/// Reads a 206 answer to a range request (RFC 9110 section 14.6): one part with its Content-Range, or a
/// multipart/byteranges body. Every part must be exactly one of the ranges asked for, each once; anything
/// else (another range, framing that does not parse, a line or a part header beyond its bound, a body
/// that ends early) is a <see cref="RangeAnswerException"/>, and the caller falls back to a whole fetch.
/// </summary>
internal sealed class MultipartByteRanges
{
    private const int MaxLineBytes = 4096;
    private const int MaxHeaderLinesPerPart = 16;

    private readonly Stream _body;
    private readonly long _blobSize;
    private readonly Dictionary<long, long> _outstanding;
    private readonly Func<long, ReadOnlyMemory<byte>, CancellationToken, ValueTask> _write;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _bufferStart;
    private int _bufferEnd;

    private MultipartByteRanges(Stream body, long blobSize, IReadOnlyList<ByteRange> ranges, Func<long, ReadOnlyMemory<byte>, CancellationToken, ValueTask> write)
    {
        _body = body;
        _blobSize = blobSize;
        _outstanding = ranges.ToDictionary(r => r.Start, r => r.End);
        _write = write;
    }

    public long BytesRead { get; private set; }

    /// <summary>A single-part answer: the body is the range its Content-Range names.</summary>
    public static async Task<long> ReadSinglePartAsync(Stream body, string? contentRange, long blobSize, IReadOnlyList<ByteRange> ranges, Func<long, ReadOnlyMemory<byte>, CancellationToken, ValueTask> write, CancellationToken cancellationToken)
    {
        var reader = new MultipartByteRanges(body, blobSize, ranges, write);
        var range = reader.Claim(contentRange);
        await reader.CopyPartAsync(range, cancellationToken).ConfigureAwait(false);
        reader.RequireAllServed();
        return reader.BytesRead;
    }

    public static async Task<long> ReadMultipartAsync(Stream body, string boundary, long blobSize, IReadOnlyList<ByteRange> ranges, Func<long, ReadOnlyMemory<byte>, CancellationToken, ValueTask> write, CancellationToken cancellationToken)
    {
        if (boundary.Length is 0 or > 70)
        {
            throw new RangeAnswerException("the multipart answer has no usable boundary");
        }

        var reader = new MultipartByteRanges(body, blobSize, ranges, write);
        var delimiter = "--" + boundary;

        // Preamble, then the first delimiter.
        var lines = 0;
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is var line && line != delimiter)
        {
            if (line is null || ++lines > MaxHeaderLinesPerPart)
            {
                throw new RangeAnswerException("the multipart answer has no first boundary");
            }
        }

        while (true)
        {
            string? contentRange = null;
            for (var headerLines = 0; ; headerLines++)
            {
                var header = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false)
                    ?? throw new RangeAnswerException("the multipart answer ends inside a part's headers");
                if (header.Length == 0)
                {
                    break;
                }

                if (headerLines >= MaxHeaderLinesPerPart)
                {
                    throw new RangeAnswerException($"a part of the multipart answer has more than {MaxHeaderLinesPerPart} header lines");
                }

                var colon = header.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && header[..colon].Trim().Equals("Content-Range", StringComparison.OrdinalIgnoreCase))
                {
                    contentRange = header[(colon + 1)..].Trim();
                }
            }

            await reader.CopyPartAsync(reader.Claim(contentRange), cancellationToken).ConfigureAwait(false);
            var afterPart = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            var next = afterPart is null ? null : await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (next is null)
            {
                throw new RangeAnswerException("the multipart answer ends without its closing boundary");
            }

            if (afterPart!.Length != 0)
            {
                throw new RangeAnswerException("a part of the multipart answer is longer than its Content-Range");
            }

            if (next == delimiter + "--")
            {
                break;
            }

            if (next != delimiter)
            {
                throw new RangeAnswerException("the multipart answer has no boundary after a part");
            }
        }

        reader.RequireAllServed();
        return reader.BytesRead;
    }

    private ByteRange Claim(string? contentRange)
    {
        // "bytes FIRST-LAST/COMPLETE" with inclusive LAST.
        if (contentRange is null || !contentRange.StartsWith("bytes ", StringComparison.OrdinalIgnoreCase))
        {
            throw new RangeAnswerException("a part of the answer has no byte Content-Range");
        }

        var spec = contentRange[6..].Trim();
        var slash = spec.IndexOf('/', StringComparison.Ordinal);
        var dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (slash < 0 || dash < 0 || dash > slash
            || !long.TryParse(spec[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var first)
            || !long.TryParse(spec[(dash + 1)..slash], NumberStyles.None, CultureInfo.InvariantCulture, out var last)
            || (spec[(slash + 1)..] != "*" && spec[(slash + 1)..] != _blobSize.ToString(CultureInfo.InvariantCulture)))
        {
            throw new RangeAnswerException($"unexpected Content-Range \"{UntrustedText.Printable(contentRange)}\"");
        }

        if (!_outstanding.Remove(first, out var end) || end != last + 1)
        {
            throw new RangeAnswerException($"the answer holds range {first}-{last}, which was not asked for (or was sent twice)");
        }

        return new ByteRange(first, end);
    }

    private void RequireAllServed()
    {
        if (_outstanding.Count > 0)
        {
            throw new RangeAnswerException($"the answer left out {_outstanding.Count} of the ranges asked for");
        }
    }

    private async Task CopyPartAsync(ByteRange range, CancellationToken cancellationToken)
    {
        var offset = range.Start;
        while (offset < range.End)
        {
            if (_bufferStart == _bufferEnd && !await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new RangeAnswerException($"the answer ends inside range {range.Start}-{range.End - 1}");
            }

            var take = (int)Math.Min(_bufferEnd - _bufferStart, range.End - offset);
            await _write(offset, _buffer.AsMemory(_bufferStart, take), cancellationToken).ConfigureAwait(false);
            _bufferStart += take;
            offset += take;
        }
    }

    /// <summary>One CRLF- (or LF-) terminated line without its terminator; null at the end of the body.</summary>
    private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        while (true)
        {
            if (_bufferStart == _bufferEnd && !await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                return line.Length == 0 ? null : throw new RangeAnswerException("the multipart answer ends inside a line");
            }

            var span = _buffer.AsSpan(_bufferStart, _bufferEnd - _bufferStart);
            var newline = span.IndexOf((byte)'\n');
            var take = newline < 0 ? span.Length : newline;
            if (line.Length + take > MaxLineBytes)
            {
                throw new RangeAnswerException($"the multipart answer has a line longer than {MaxLineBytes} bytes");
            }

            line.Append(Encoding.Latin1.GetString(span[..take]));
            if (newline >= 0)
            {
                _bufferStart += newline + 1;
                return line.Length > 0 && line[^1] == '\r' ? line.ToString(0, line.Length - 1) : line.ToString();
            }

            _bufferStart = _bufferEnd;
        }
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        _bufferStart = 0;
        _bufferEnd = await _body.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
        BytesRead += _bufferEnd;
        return _bufferEnd > 0;
    }
}

/// <summary>A range answer kubefly will not use; the layer is fetched whole.</summary>
internal sealed class RangeAnswerException(string message) : IOException(message);
