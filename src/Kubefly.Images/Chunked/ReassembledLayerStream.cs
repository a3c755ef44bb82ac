using System.Security.Cryptography;
using Kubefly.Images.Unpacking;
using Kubefly.Linux;
using Kubefly.Oci;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Images.Chunked;

/// <summary>
/// The uncompressed tar stream of a partially pulled zstd:chunked layer, produced segment by segment
/// from a <see cref="PartialLayerPlan"/>: fetched frames (kept at their blob offsets in a sparse scratch
/// file) are decompressed, local files are read from their layer directories. A fetched file must match
/// its size and digest in the table of contents; a local file is opened beneath its layer directory with
/// no symlink followed and must have the size its table gave. Any mismatch is a
/// <see cref="ChunkedFormatException"/>; the caller hashes the whole stream against the diff_id.
/// </summary>
public sealed class ReassembledLayerStream : ReadOnlyStream, ILocalContent
{
    private const ulong BeneathNoLinks = Interop.RESOLVE_BENEATH | Interop.RESOLVE_NO_SYMLINKS | Interop.RESOLVE_NO_MAGICLINKS | Interop.RESOLVE_NO_XDEV;

    private readonly PartialLayerPlan _plan;
    private readonly SafeFileHandle _fetched;
    private readonly Func<Digest, string> _layerPath;
    private readonly Dictionary<Digest, SafeFileHandle> _layerRoots = [];
    private readonly IncrementalHash _fileHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private int _next;
    private Stream? _current;
    private PlanSegment _segment;
    private long _segmentProduced;
    private int _peeked = -1;

    /// <param name="fetched">The scratch file holding the fetched ranges at their blob offsets.</param>
    /// <param name="layerPath">Where a stored layer's directory is, by diff_id.</param>
    public ReassembledLayerStream(PartialLayerPlan plan, SafeFileHandle fetched, Func<Digest, string> layerPath)
    {
        _plan = plan;
        _fetched = fetched;
        _layerPath = layerPath;
    }

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        if (_peeked >= 0)
        {
            buffer[0] = (byte)_peeked;
            _peeked = -1;
            return 1;
        }

        while (true)
        {
            if (_current is null)
            {
                if (_next == _plan.Segments.Count)
                {
                    return 0;
                }

                _segment = _plan.Segments[_next++];
                _segmentProduced = 0;
                _current = Open(_segment);
            }

            var read = ReadCurrent(buffer);
            if (read > 0)
            {
                return read;
            }

            FinishSegment();
        }
    }

    /// <summary>
    /// Hands the unpacker the stored file the next <paramref name="length"/> bytes will be read from, when
    /// they are exactly a local file's content for entry <paramref name="path"/> (see <see cref="ILocalContent"/>).
    /// </summary>
    public (SafeFileHandle File, Digest Digest)? TryClaim(string path, long length)
    {
        if (_peeked >= 0)
        {
            return null;
        }

        if (_current is not null)
        {
            // The content starts where the current segment ends, or inside it: look one byte ahead.
            Span<byte> one = stackalloc byte[1];
            if (ReadCurrent(one) > 0)
            {
                _peeked = one[0];
                return null;
            }

            FinishSegment();
        }

        if (_next == _plan.Segments.Count || _plan.Segments[_next] is not { Kind: SegmentKind.LocalFile, File: { } file, Local: { } local } || file.Size != length || file.Path != path)
        {
            return null;
        }

        _segment = _plan.Segments[_next++];
        _segmentProduced = 0;
        var stream = OpenLocal(local, file);
        _current = stream;
        return (stream.Handle, file.Digest);
    }

    private int ReadCurrent(Span<byte> buffer)
    {
        int read;
        try
        {
            read = _current!.Read(buffer);
        }
        catch (Exception e) when (e is ZstdSharp.ZstdException or InvalidDataException or EndOfStreamException)
        {
            throw new ChunkedFormatException($"the fetched frames at {_segment.Start}..{_segment.End} do not decompress ({RuntimeText.Describe(e)})");
        }

        if (read > 0)
        {
            if (_segment.Kind == SegmentKind.FetchedFile)
            {
                _fileHash.AppendData(buffer[..read]);
            }

            _segmentProduced += read;
            if (_segment.File is { } file && _segmentProduced > file.Size)
            {
                throw new ChunkedFormatException($"file \"{UntrustedText.Printable(file.Name)}\" is longer than the {file.Size} bytes its table of contents gives");
            }
        }

        return read;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _current?.Dispose();
            foreach (var root in _layerRoots.Values)
            {
                root.Dispose();
            }

            _fileHash.Dispose();
        }

        base.Dispose(disposing);
    }

    private Stream Open(PlanSegment segment) => segment.Kind switch
    {
        SegmentKind.LocalFile => OpenLocal(segment.Local!, segment.File!.Value),
        SegmentKind.PredictedFrames => new MemoryStream(segment.Predicted!, writable: false),
        _ => new ZstdSharp.DecompressionStream(new FileRangeStream(_fetched, segment.Start, segment.End), leaveOpen: false),
    };

    private void FinishSegment()
    {
        _current!.Dispose();
        _current = null;
        if (_segment.File is not { } file)
        {
            return;
        }

        var what = $"file \"{UntrustedText.Printable(file.Name)}\"";
        if (_segmentProduced != file.Size)
        {
            throw new ChunkedFormatException($"{what} has {_segmentProduced} bytes, not the {file.Size} its table of contents gives");
        }

        if (_segment.Kind == SegmentKind.FetchedFile && !Digest.FromHashBytes(_fileHash.GetHashAndReset()).FixedTimeEquals(file.Digest))
        {
            throw new ChunkedFormatException($"{what} does not match its digest in the table of contents");
        }
    }

    private FileRangeStream OpenLocal(LocalFile local, ChunkedFile file)
    {
        if (!_layerRoots.TryGetValue(local.LayerDiffId, out var root))
        {
            try
            {
                root = Interop.OpenDirectory(_layerPath(local.LayerDiffId));
            }
            catch (SyscallException e)
            {
                throw new ChunkedFormatException($"stored layer {local.LayerDiffId} cannot be opened ({e.Message})");
            }

            _layerRoots[local.LayerDiffId] = root;
        }

        var opened = Interop.TryOpenat2(root, local.Path, Interop.O_RDONLY | Interop.O_NOFOLLOW, 0, BeneathNoLinks, out var handle);
        if (opened != 0)
        {
            throw new ChunkedFormatException($"stored file {UntrustedText.Printable(local.Path)} of layer {local.LayerDiffId} (for \"{UntrustedText.Printable(file.Name)}\") cannot be opened ({Errno.Describe(opened)})");
        }

        var status = Interop.Fstat(handle, local.Path);
        if (!status.IsRegularFile || status.Size != file.Size)
        {
            handle.Dispose();
            throw new ChunkedFormatException($"stored file {UntrustedText.Printable(local.Path)} of layer {local.LayerDiffId} is no longer a {file.Size}-byte regular file");
        }

        return new FileRangeStream(handle, 0, file.Size, ownsHandle: true);
    }

    /// <summary>
    /// [start, end) of a file, read with pread into the caller's buffer: no buffer of its own and no
    /// seek, as a layer of thousands of files opens one per file.
    /// </summary>
    private sealed class FileRangeStream(SafeFileHandle file, long start, long end, bool ownsHandle = false) : ReadOnlyStream
    {
        private long _position = start;

        public SafeFileHandle Handle => file;

        protected override void Dispose(bool disposing)
        {
            if (disposing && ownsHandle)
            {
                file.Dispose();
            }

            base.Dispose(disposing);
        }

        public override int Read(Span<byte> buffer)
        {
            var want = (int)Math.Min(buffer.Length, end - _position);
            if (want <= 0)
            {
                return 0;
            }

            var read = RandomAccess.Read(file, buffer[..want], _position);
            if (read == 0)
            {
                throw new ChunkedFormatException($"the fetched bytes end at {_position}, before {end}");
            }

            _position += read;
            return read;
        }
    }
}
