using Kubefly.Oci;

namespace Kubefly.Images.Sources;

/// <summary>A byte range of a blob: [Start, End).</summary>
public readonly record struct ByteRange(long Start, long End)
{
    public long Length => End - Start;
}

/// <summary>
/// A source that can serve parts of a blob (HTTP range requests): what partial pulls of zstd:chunked
/// layers need. Bytes are unverified, as ever; the caller checks what it builds from them.
/// </summary>
public interface IRangedBlobSource
{
    /// <summary>
    /// Reads <paramref name="ranges"/> (sorted, disjoint, inside the blob) and hands each one's bytes to
    /// <paramref name="write"/> with their offset in the blob. A source that will not serve exactly those
    /// ranges (it sends the whole blob, refuses, or answers anything unexpected) returns a result naming
    /// why, and the caller fetches the blob whole instead.
    /// </summary>
    Task<RangeReadResult> ReadRangesAsync(Descriptor blob, IReadOnlyList<ByteRange> ranges, Func<long, ReadOnlyMemory<byte>, CancellationToken, ValueTask> write, CancellationToken cancellationToken);
}

/// <param name="Refusal">Null when every range was served; else why not, for the message that says the layer is fetched whole.</param>
/// <param name="WireBytes">Response body bytes received, multipart framing included.</param>
public sealed record RangeReadResult(string? Refusal, long WireBytes)
{
    public bool Served => Refusal is null;
}
