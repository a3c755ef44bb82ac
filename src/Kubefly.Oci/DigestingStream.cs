using System.Security.Cryptography;

namespace Kubefly.Oci;

/// <summary>
/// The one place content is verified: a read-only pass-through that hashes what flows through it,
/// refuses to read past the expected size, and at end of stream throws
/// <see cref="DigestMismatchException"/> when size or digest differ. Without an expectation it only
/// computes (a layer's diff_id is the digest of the uncompressed stream).
/// </summary>
public sealed class DigestingStream : ReadOnlyStream
{
    private readonly Stream _inner;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly Digest? _expected;
    private readonly long _expectedSize;
    private readonly string _what;
    private readonly bool _leaveOpen;
    private readonly BackgroundHash? _background;
    private Digest? _actual;

    /// <param name="inner">The unverified content.</param>
    /// <param name="what">What is read, for messages ("blob sha256:... of docker.io/library/busybox").</param>
    /// <param name="expected">The digest the content must have, or null to only compute it.</param>
    /// <param name="expectedSize">The exact size, or -1 when unknown (then only the digest is checked).</param>
    /// <param name="hashInBackground">
    /// Hash on a thread of its own, so hashing overlaps the reader's work (decompressing, writing files) on
    /// another core; the verdict at the end of the stream is the same.
    /// </param>
    public DigestingStream(Stream inner, string what, Digest? expected = null, long expectedSize = -1, bool leaveOpen = false, bool hashInBackground = false)
    {
        _inner = inner;
        _what = what;
        _expected = expected;
        _expectedSize = expectedSize;
        _leaveOpen = leaveOpen;
        _background = hashInBackground ? new BackgroundHash(_hash) : null;
    }

    public long BytesRead { get; private set; }

    /// <summary>The digest of everything read; available once the stream reached its end.</summary>
    public Digest Actual => _actual ?? throw new InvalidOperationException($"{_what}: digest asked before the end of the stream");

    public bool Completed => _actual is not null;

    public override long Position
    {
        get => BytesRead;
        set => throw new NotSupportedException();
    }

    public override int Read(Span<byte> buffer)
    {
        // A zero-length read says nothing about the end of the stream (TarReader issues them for empty entries).
        if (buffer.IsEmpty)
        {
            return 0;
        }

        var n = _inner.Read(Limit(buffer));
        return Account(buffer[..n], n);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        var limited = buffer[..Limit(buffer.Span).Length];
        var n = await _inner.ReadAsync(limited, cancellationToken).ConfigureAwait(false);
        return Account(buffer.Span[..n], n);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Reads to the end (verifying), for callers that stopped before EOF (a tar's trailing padding).</summary>
    public void DrainAndVerify()
    {
        var buffer = new byte[81920];
        while (Read(buffer) > 0)
        {
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _background?.Dispose();
            _hash.Dispose();
            if (!_leaveOpen)
            {
                _inner.Dispose();
            }
        }

        base.Dispose(disposing);
    }

    // Read one byte past the expected size at most, so an oversized body fails instead of being trusted.
    private Span<byte> Limit(Span<byte> buffer)
    {
        if (_expectedSize < 0)
        {
            return buffer;
        }

        var allowed = _expectedSize - BytesRead + 1;
        return allowed < buffer.Length ? buffer[..(int)Math.Max(allowed, 1)] : buffer;
    }

    private int Account(ReadOnlySpan<byte> data, int n)
    {
        if (n > 0)
        {
            BytesRead += n;
            if (_expectedSize >= 0 && BytesRead > _expectedSize)
            {
                throw new DigestMismatchException($"{_what}: more than the expected {_expectedSize} bytes");
            }

            if (_background is null)
            {
                _hash.AppendData(data);
            }
            else
            {
                _background.Append(data);
            }

            return n;
        }

        if (_actual is null)
        {
            _background?.Finish();
            _actual = Digest.FromHashBytes(_hash.GetHashAndReset());
            if (_expectedSize >= 0 && BytesRead != _expectedSize)
            {
                throw new DigestMismatchException($"{_what}: size mismatch: expected {_expectedSize} bytes, got {BytesRead}");
            }

            if (_expected is { } expected && !expected.FixedTimeEquals(_actual.Value))
            {
                throw new DigestMismatchException(_what, expected, _actual.Value);
            }
        }

        return 0;
    }

    /// <summary>
    /// Batches what the reader hands it into blocks and hashes them on a dedicated thread (not the thread
    /// pool: the reader blocks when every block is full, and must not wait on a pool thread it starves).
    /// A fixed ring of blocks passes between the two threads, so memory stays at one megabyte a stream.
    /// </summary>
    private sealed class BackgroundHash : IDisposable
    {
        private const int BlockSize = 256 * 1024;
        private const int Blocks = 4;
        private readonly System.Collections.Concurrent.BlockingCollection<byte[]> _free = new(Blocks);
        private readonly System.Collections.Concurrent.BlockingCollection<(byte[] Block, int Length)> _full = new(Blocks);
        private readonly Thread _worker;
        private byte[] _filling;
        private int _filled;
        private bool _finished;

        public BackgroundHash(IncrementalHash hash)
        {
            for (var i = 0; i < Blocks - 1; i++)
            {
                _free.Add(new byte[BlockSize]);
            }

            _filling = new byte[BlockSize];
            _worker = new Thread(() =>
            {
                foreach (var (block, length) in _full.GetConsumingEnumerable())
                {
                    hash.AppendData(block, 0, length);
                    _free.Add(block);
                }
            })
            {
                IsBackground = true,
                Name = "kubefly-hash",
            };
            _worker.Start();
        }

        public void Append(ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty)
            {
                var take = Math.Min(data.Length, BlockSize - _filled);
                data[..take].CopyTo(_filling.AsSpan(_filled));
                _filled += take;
                data = data[take..];
                if (_filled == BlockSize)
                {
                    Post();
                    _filling = _free.Take();
                }
            }
        }

        /// <summary>Hands over the last block and waits until everything is hashed.</summary>
        public void Finish()
        {
            if (_finished)
            {
                return;
            }

            _finished = true;
            if (_filled > 0)
            {
                Post();
            }

            _full.CompleteAdding();
            _worker.Join();
        }

        public void Dispose()
        {
            if (!_finished)
            {
                _finished = true;
                _full.CompleteAdding();
                _worker.Join();
            }

            _full.Dispose();
            _free.Dispose();
        }

        private void Post()
        {
            _full.Add((_filling, _filled));
            _filled = 0;
        }
    }
}
