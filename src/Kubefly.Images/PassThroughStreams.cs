using Kubefly.Oci;

namespace Kubefly.Images;

/// <summary>Copies every byte read from <paramref name="inner"/> into <paramref name="copy"/> (the blob file kept in the store).</summary>
internal sealed class TeeReadStream(Stream inner, Stream copy, Action<long>? onProgress = null) : ReadOnlyStream
{
    private const long ProgressStep = 1 << 20;
    private long _total;
    private long _lastReported;

    public override long Position
    {
        get => _total;
        set => throw new NotSupportedException();
    }

    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer);
        if (n > 0)
        {
            copy.Write(buffer[..n]);
            _total += n;
            if (onProgress is not null && _total - _lastReported >= ProgressStep)
            {
                _lastReported = _total;
                onProgress(_total);
            }
        }

        return n;
    }

    /// <summary>Reads what is left (a compressed stream's trailer the decompressor did not need).</summary>
    public void Drain()
    {
        var buffer = new byte[81920];
        while (Read(buffer) > 0)
        {
        }
    }
}
