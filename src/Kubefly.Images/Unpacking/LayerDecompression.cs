using System.IO.Compression;
using Kubefly.Oci;

namespace Kubefly.Images.Unpacking;

/// <summary>
/// Turns a layer blob into its uncompressed tar stream. The magic bytes decide, not the label: a
/// docker-archive layer labelled plain tar that is really gzip (or the reverse) still unpacks.
/// </summary>
public static class LayerDecompression
{
    private static ReadOnlySpan<byte> GzipMagic => [0x1f, 0x8b];

    private static ReadOnlySpan<byte> ZstdMagic => [0x28, 0xb5, 0x2f, 0xfd];

    /// <summary>
    /// The uncompressed stream of <paramref name="compressed"/> (disposing it disposes the blob stream).
    /// Corrupt or truncated input and output beyond <paramref name="maxUncompressedBytes"/> fail with a
    /// <see cref="LayerException"/> naming <paramref name="layerDescription"/>.
    /// </summary>
    public static Stream Open(Stream compressed, LayerCompression declared, string layerDescription, long maxUncompressedBytes = UnpackLimits.DefaultMaxTotalBytes)
    {
        ArgumentNullException.ThrowIfNull(compressed);
        var head = new byte[4];
        var headLength = ReadUpTo(compressed, head, layerDescription);
        var prefixed = new PrefixedStream(head.AsMemory(0, headLength), compressed);
        var actual = Sniff(head.AsSpan(0, headLength));
        Stream decompressed = actual switch
        {
            LayerCompression.Gzip => new GZipStream(prefixed, CompressionMode.Decompress, leaveOpen: false),
            LayerCompression.Zstd => new ZstdSharp.DecompressionStream(prefixed, leaveOpen: false),
            _ => prefixed,
        };
        return new CheckedLayerStream(decompressed, actual, declared, layerDescription, maxUncompressedBytes);
    }

    /// <summary>What the first bytes say the compression is.</summary>
    public static LayerCompression Sniff(ReadOnlySpan<byte> head) =>
        head.StartsWith(GzipMagic) ? LayerCompression.Gzip
        : head.StartsWith(ZstdMagic) ? LayerCompression.Zstd
        : LayerCompression.None;

    private static int ReadUpTo(Stream stream, byte[] buffer, string layer)
    {
        try
        {
            var total = 0;
            while (total < buffer.Length)
            {
                var read = stream.Read(buffer, total, buffer.Length - total);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            return total;
        }
        catch (IOException e)
        {
            throw new LayerException(layer, null, $"reading the layer failed: {RuntimeText.Describe(e)}", e);
        }
    }

    /// <summary>Replays the sniffed bytes, then the rest of the blob.</summary>
    private sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream inner) : ReadOnlyStream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override int Read(Span<byte> buffer)
        {
            if (_prefix.Length > 0)
            {
                var n = Math.Min(buffer.Length, _prefix.Length);
                _prefix.Span[..n].CopyTo(buffer);
                _prefix = _prefix[n..];
                return n;
            }

            return inner.Read(buffer);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// Counts the uncompressed bytes against the limit and turns the decompressors' own exceptions into a
    /// <see cref="LayerException"/> that says which layer and what the data was labelled and found to be.
    /// </summary>
    private sealed class CheckedLayerStream(Stream inner, LayerCompression actual, LayerCompression declared, string layer, long maxBytes) : ReadOnlyStream
    {
        private long _produced;

        public override int Read(Span<byte> buffer)
        {
            int read;
            try
            {
                read = inner.Read(buffer);
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or ZstdSharp.ZstdException or IOException or InvalidOperationException)
            {
                throw new LayerException(layer, null, $"corrupt or truncated {Describe()} data: {RuntimeText.Describe(e)}", e);
            }

            _produced += read;
            if (_produced > maxBytes)
            {
                throw new LayerException(layer, null, $"uncompressed size exceeds the limit of {maxBytes} bytes (decompression bomb?)");
            }

            return read;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private string Describe() => actual == declared
            ? actual.ToString().ToLowerInvariant()
            : $"{actual.ToString().ToLowerInvariant()} (labelled {declared.ToString().ToLowerInvariant()})";
    }
}
