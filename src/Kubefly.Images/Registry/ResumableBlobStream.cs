using System.Net;
using Kubefly.Oci;

namespace Kubefly.Images.Registry;

/// <summary>
/// A blob download that survives dropped connections: when the body ends early or a read fails, it asks
/// again with <c>Range: bytes=N-</c> and continues (checking the 206's Content-Range, or skipping N bytes
/// of a 200). It does not verify content: read it through a <see cref="DigestingStream"/>.
/// </summary>
internal sealed class ResumableBlobStream : ReadOnlyStream
{
    private readonly Func<long, CancellationToken, Task<HttpResponseMessage>> _open;
    private readonly long _expectedSize;
    private readonly string _what;
    private readonly RegistryClientOptions _options;
    private HttpResponseMessage _response;
    private Stream _body;
    private int _resumes;
    private long _position;
    private bool _ended;

    private ResumableBlobStream(Func<long, CancellationToken, Task<HttpResponseMessage>> open, HttpResponseMessage response, Stream body, long expectedSize, string what, RegistryClientOptions options)
    {
        _open = open;
        _response = response;
        _body = body;
        _expectedSize = expectedSize;
        _what = what;
        _options = options;
    }

    /// <summary>Opens the blob at offset 0; <paramref name="open"/> sends a GET with a Range from the given offset (none for 0).</summary>
    public static async Task<ResumableBlobStream> OpenAsync(Func<long, CancellationToken, Task<HttpResponseMessage>> open, long expectedSize, string what, RegistryClientOptions options, CancellationToken cancellationToken)
    {
        var response = await open(0, cancellationToken).ConfigureAwait(false);
        try
        {
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return new ResumableBlobStream(open, response, body, expectedSize, what, options);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override int Read(Span<byte> buffer)
    {
        var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            var n = Read(rented, 0, buffer.Length);
            rented.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_ended || buffer.Length == 0)
        {
            return 0;
        }

        while (true)
        {
            Exception? failure = null;
            using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                idle.CancelAfter(_options.ReadIdleTimeout);
                try
                {
                    var n = await _body.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
                    if (n > 0)
                    {
                        _position += n;
                        return n;
                    }

                    if (_expectedSize < 0 || _position >= _expectedSize)
                    {
                        _ended = true;
                        return 0;
                    }

                    failure = new IOException($"the body ended after {_position} of {_expectedSize} bytes");
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is IOException or HttpRequestException or OperationCanceledException)
                {
                    failure = e is OperationCanceledException ? new TimeoutException($"no data for {_options.ReadIdleTimeout.TotalSeconds:0}s", e) : e;
                }
            }

            await ResumeAsync(failure, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ResumeAsync(Exception failure, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (++_resumes > _options.MaxBlobResumes)
            {
                throw new ImageException($"{_what}: download failed after {_options.MaxBlobResumes} resumes at byte {_position}: {RuntimeText.Describe(failure)}", failure);
            }

            _options.Log?.Invoke($"{_what}: connection lost at byte {_position} ({RuntimeText.Describe(failure)}); resuming (attempt {_resumes} of {_options.MaxBlobResumes})");
            await _body.DisposeAsync().ConfigureAwait(false);
            _response.Dispose();
            try
            {
                _response = await _open(_position, cancellationToken).ConfigureAwait(false);
                _body = await _response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                await PositionBodyAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is IOException or HttpRequestException or OperationCanceledException)
            {
                _body = Null;
                failure = e;
            }
        }
    }

    private async Task PositionBodyAsync(CancellationToken cancellationToken)
    {
        if (_response.StatusCode == HttpStatusCode.PartialContent)
        {
            var range = _response.Content.Headers.ContentRange;
            if (range is null || !string.Equals(range.Unit, "bytes", StringComparison.OrdinalIgnoreCase) || range.From != _position ||
                (_expectedSize >= 0 && range.Length is { } total && total != _expectedSize))
            {
                throw new ImageException($"{_what}: resumed at byte {_position} but the server sent the range \"{UntrustedText.Printable(range?.ToString() ?? "(none)")}\"");
            }

            return;
        }

        // A server that ignores Range resends everything: drop what was already passed on.
        var skip = _position;
        var scratch = new byte[81920];
        while (skip > 0)
        {
            var n = await _body.ReadAsync(scratch.AsMemory(0, (int)Math.Min(skip, scratch.Length)), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException($"the resent body ended after {_position - skip} bytes, before the resume point {_position}");
            }

            skip -= n;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _body.Dispose();
            _response.Dispose();
        }

        base.Dispose(disposing);
    }
}
