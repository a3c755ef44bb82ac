using System.Buffers;
using System.Formats.Tar;
using System.Security.Cryptography;
using Kubefly.Linux;
using Kubefly.Oci;

namespace Kubefly.Images.Unpacking;

/// <summary>
/// One run of <see cref="LayerUnpacker"/>: the entry loop and its per-layer state (what this layer
/// created, which regular files hardlinks may name, directory times to set last). One method per
/// entry kind (LayerExtraction.Entries.cs), whiteouts apart (LayerExtraction.Whiteouts.cs).
/// </summary>
internal sealed partial class LayerExtraction : IDisposable
{
    private const int CopyBufferSize = 128 * 1024;
    private const int MaxRecordedHeaderBytes = 1 << 20;

    private readonly UnpackMode _mode;
    private readonly UnpackLimits _limits;
    private readonly Action<string>? _warn;
    private readonly string _layer;
    private readonly CancellationToken _cancellationToken;
    private readonly RootedTree _tree;
    private readonly byte[] _buffer;
    private readonly Action<DirectoryIdentity, string> _recordCreated;

    // Regular files this layer created, by normalized path, with their inode: the only hardlink targets.
    private readonly Dictionary<string, FileIdentity> _regularFiles = new(StringComparer.Ordinal);

    // (Apply mode) names this layer created, per parent directory inode: what opaque whiteouts keep.
    private readonly HashSet<CreatedName> _created = [];

    // (Apply mode) directories this layer declared over a lower directory, keeping its lower children:
    // an opaque marker on an ancestor must still clear those children, as overlayfs would hide them.
    private readonly HashSet<CreatedName> _redeclared = [];

    private readonly List<DirectoryTime> _directoryTimes = [];

    // (With a file sink) every regular file's content digest: the layer's file table, which later
    // partial pulls look files up in (see Chunked/LayerFileTable.cs).
    private readonly ILayerFileSink? _files;
    private readonly IncrementalHash? _fileHash;

    // (With a file sink) the raw tar bytes since the last file content and the signatures of the
    // entries they hold: what a partial pull needs to rebuild those bytes without fetching them.
    private readonly IncrementalHash? _signatures;
    private readonly MemoryStream? _prefix;
    private bool _prefixOverflowed;
    private bool _inContent;

    private readonly ILocalContent? _localContent;
    private int _linkedFileCount;

    // The raw header bytes of the current entry, for xattr values TarReader could not decode exactly.
    private readonly HeaderRecorder _headers = new();
    private Dictionary<string, byte[]>? _rawXattrs;
    private bool _rawXattrsParsed;
    private TarEntry? _previousEntry;

    private string? _entryName;
    private int _entries;
    private int _regularFileCount;
    private int _directoryCount;
    private int _symlinkCount;
    private int _hardlinkCount;
    private int _specialFileCount;
    private int _whiteoutCount;
    private int _opaqueCount;
    private long _contentBytes;

    public LayerExtraction(UnpackMode mode, UnpackLimits limits, Action<string>? warn, string rootDirectory, string layerDescription, CancellationToken cancellationToken, ILayerFileSink? fileSink = null, ILocalContent? localContent = null)
    {
        _localContent = localContent;
        _mode = mode;
        _limits = limits;
        _warn = warn;
        _layer = layerDescription;
        _cancellationToken = cancellationToken;
        _recordCreated = RecordCreated;
        _tree = new RootedTree(rootDirectory, Fail);
        _buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        if (fileSink is not null)
        {
            _files = fileSink;
            _fileHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            _signatures = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            _prefix = new MemoryStream();
        }
    }

    private static Digest EmptyContentDigest { get; } = Digest.Compute([]);

    public UnpackStatistics Run(Stream uncompressedTar)
    {
        // The recording (LimitedTarStream) sees the raw bytes; the guard may hand TarReader a header with a
        // newline inside a value replaced (see TarHeaderGuard), and lengths never change, so offsets agree.
        var input = new LimitedTarStream(uncompressedTar, this);
        var guarded = new TarHeaderGuard(input, _limits.MaxHeaderBytes, reason => Fail(reason, null));
        using (var reader = new TarReader(guarded, leaveOpen: true))
        {
            while (true)
            {
                _cancellationToken.ThrowIfCancellationRequested();
                _entryName = null;
                var entry = NextEntry(reader, input);
                if (entry is null)
                {
                    break;
                }

                _entryName = entry.Name;
                if (++_entries > _limits.MaxEntries)
                {
                    throw Fail($"more than {_limits.MaxEntries} entries", null);
                }

                RecordSignature(entry);
                Extract(entry);
            }
        }

        _entryName = null;
        ApplyDirectoryTimes();
        return new UnpackStatistics
        {
            Entries = _entries,
            RegularFiles = _regularFileCount,
            Directories = _directoryCount,
            Symlinks = _symlinkCount,
            Hardlinks = _hardlinkCount,
            SpecialFiles = _specialFileCount,
            Whiteouts = _whiteoutCount,
            OpaqueDirectories = _opaqueCount,
            ContentBytes = _contentBytes,
            LinkedFiles = _linkedFileCount,
            TarBytes = input.BytesRead,
        };
    }

    public void Dispose()
    {
        _tree.Dispose();
        _headers.Dispose();
        _fileHash?.Dispose();
        _signatures?.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer);
    }

    private TarEntry? NextEntry(TarReader reader, LimitedTarStream input)
    {
        try
        {
            // Consume what is left of the previous entry's data ourselves, so the recording of the next
            // headers starts right after that data and block boundaries can be found in it.
            var previous = _previousEntry?.DataStream;
            if (previous is not null)
            {
                while (previous.Read(_buffer, 0, _buffer.Length) > 0)
                {
                }
            }

            _rawXattrs = null;
            _rawXattrsParsed = false;
            _headers.Start(input.BytesRead);
            try
            {
                _previousEntry = reader.GetNextEntry(copyData: false);
                return _previousEntry;
            }
            finally
            {
                _headers.Stop();
            }
        }
        catch (Exception e) when (IsTarFormatError(e))
        {
            throw Fail($"malformed or truncated tar: {RuntimeText.Describe(e)}", e);
        }
    }

    private void RecordSignature(TarEntry entry)
    {
        if (_signatures is null || entry.EntryType == TarEntryType.GlobalExtendedAttributes)
        {
            return;
        }

        var name = EntryPath.TryNormalize(entry.Name, _limits.MaxPathLength, out var normalized, out _) ? normalized : entry.Name;
        var type = EntrySignature.TypeName((char)entry.EntryType);
        var size = type == "reg" ? entry.Length : 0;
        new EntrySignature(type, name, (int)entry.Mode, entry.Uid, entry.Gid, entry.ModificationTime.ToUnixTimeSeconds(), size, entry.LinkName).AppendTo(_signatures);
    }

    /// <summary>A non-empty file's content begins: the bytes since the last one are its prefix.</summary>
    private (byte[]? Prefix, ulong Signature) TakePrefix()
    {
        var prefix = _prefixOverflowed ? null : _prefix!.ToArray();
        _prefix!.SetLength(0);
        _prefixOverflowed = false;
        return (prefix, EntrySignature.Finish(_signatures!));
    }

    private void RecordRaw(ReadOnlySpan<byte> bytes)
    {
        if (_prefix is null || _inContent || _prefixOverflowed)
        {
            return;
        }

        if (_prefix.Length + bytes.Length > LayerFile.MaxPrefixBytes)
        {
            _prefixOverflowed = true;
            return;
        }

        _prefix.Write(bytes);
    }

    /// <summary>The exact bytes of an xattr value from the raw PAX headers, or null.</summary>
    private byte[]? RawXattrValue(string name)
    {
        if (!_rawXattrsParsed)
        {
            _rawXattrs = RawPaxXattrs.Parse(_headers.Recorded, _headers.StartOffset);
            _rawXattrsParsed = true;
        }

        return _rawXattrs is not null && _rawXattrs.TryGetValue(name, out var value) ? value : null;
    }

    private void Extract(TarEntry entry)
    {
        if (entry.EntryType == TarEntryType.GlobalExtendedAttributes)
        {
            return;
        }

        RefuseNamesThatAreNotUtf8(entry);
        if (!EntryPath.TryNormalize(entry.Name, _limits.MaxPathLength, out var path, out var problem))
        {
            throw Fail(problem!, null);
        }

        if (entry is PaxTarEntry pax && IsGnuSparse(pax))
        {
            // .NET 10's TarReader would hand over the condensed data as if it were the file: refuse.
            throw Fail("GNU sparse entries are not supported", null);
        }

        if (entry.Length > _limits.MaxEntrySize)
        {
            throw Fail($"size {entry.Length} exceeds the limit of {_limits.MaxEntrySize} bytes", null);
        }

        if (path.Length > 0)
        {
            var (parent, name) = EntryPath.Split(path);
            if (name.StartsWith(EntryPath.WhiteoutPrefix, StringComparison.Ordinal))
            {
                Whiteout(parent, name);
                return;
            }
        }
        else if (entry.EntryType != TarEntryType.Directory)
        {
            throw Fail($"a {entry.EntryType} entry would replace the root directory itself", null);
        }

        switch (entry.EntryType)
        {
            case TarEntryType.Directory when path.Length == 0:
                RootDirectory(entry);
                break;
            case TarEntryType.Directory:
                Directory(entry, path);
                break;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile or TarEntryType.SparseFile:
                RegularFile(entry, path);
                break;
            case TarEntryType.SymbolicLink:
                Symlink(entry, path);
                break;
            case TarEntryType.HardLink:
                Hardlink(entry, path);
                break;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                SpecialFile(entry, path);
                break;
            default:
                throw Fail($"unsupported entry type {entry.EntryType} ('{(char)entry.EntryType}')", null);
        }
    }

    /// <summary>
    /// Names are bytes, and TarReader hands them over decoded as UTF-8, invalid bytes replaced by U+FFFD:
    /// "bad\xff\xfename" and "bad\xfd\xfcname" would both become "bad\ufffd\ufffdname", one file silently
    /// lost. A name or link name that is not UTF-8 refuses the layer, naming the entry by its exact bytes.
    /// </summary>
    private void RefuseNamesThatAreNotUtf8(TarEntry entry)
    {
        if (!entry.Name.Contains('\uFFFD', StringComparison.Ordinal) && !entry.LinkName.Contains('\uFFFD', StringComparison.Ordinal))
        {
            return;
        }

        var (name, link) = RawEntryNames.Parse(_headers.Recorded, _headers.StartOffset);
        if (name is null || link is null)
        {
            // Headers too large to have been kept: the replacement character cannot be told from a real one.
            throw Fail("the name or link name holds U+FFFD, the mark of bytes that are not UTF-8; kubefly refuses names it cannot keep byte-exact", null);
        }

        if (!RawEntryNames.IsValidUtf8(name))
        {
            _entryName = FileNameText.Printable(name);
            throw Fail("the name is not valid UTF-8; kubefly refuses names it cannot keep byte-exact (two such names could become one file)", null);
        }

        if (!RawEntryNames.IsValidUtf8(link))
        {
            throw Fail($"the link name \"{FileNameText.Printable(link)}\" is not valid UTF-8; kubefly refuses names it cannot keep byte-exact", null);
        }
    }

    private static bool IsGnuSparse(PaxTarEntry entry)
    {
        var attributes = entry.ExtendedAttributes;
        return attributes.Count > 0
            && (attributes.ContainsKey("GNU.sparse.major") || attributes.ContainsKey("GNU.sparse.map") || attributes.ContainsKey("GNU.sparse.size"));
    }

    private void RecordCreated(DirectoryIdentity parent, string name)
    {
        if (_mode == UnpackMode.Apply)
        {
            _created.Add(new CreatedName(parent.Device, parent.Inode, name));
        }
    }

    private void RecordRedeclared(DirectoryIdentity parent, string name)
    {
        if (_mode == UnpackMode.Apply)
        {
            _redeclared.Add(new CreatedName(parent.Device, parent.Inode, name));
        }
    }

    private void Warn(string message) =>
        _warn?.Invoke(_entryName is null
            ? $"layer {_layer}: {message}"
            : $"layer {_layer}: entry \"{UntrustedText.Printable(_entryName)}\": {message}");

    private LayerException Fail(string reason, Exception? inner) => new(_layer, _entryName, reason, inner);

    private static bool IsTarFormatError(Exception e) =>
        e is InvalidDataException or EndOfStreamException or InvalidOperationException or NotSupportedException
            or FormatException or OverflowException or ArgumentException
        || (e is IOException && e is not SyscallException);

    private readonly record struct FileIdentity(ulong Device, ulong Inode);

    private readonly record struct CreatedName(ulong Device, ulong Inode, string Name);

    private readonly record struct DirectoryTime(string Path, FileIdentity Identity, long Seconds, long Nanoseconds);

    /// <summary>The tar stream as TarReader sees it: never seekable (one sequential path), counted against the total limit.</summary>
    private sealed class LimitedTarStream(Stream inner, LayerExtraction owner) : ReadOnlyStream
    {
        public long BytesRead { get; private set; }

        public override int Read(Span<byte> buffer)
        {
            var read = inner.Read(buffer);
            owner.RecordRaw(buffer[..read]);
            if (owner._headers.Active)
            {
                owner._headers.Append(buffer[..read], MaxRecordedHeaderBytes);
            }

            BytesRead += read;
            if (BytesRead > owner._limits.MaxTotalBytes)
            {
                throw owner.Fail($"the uncompressed layer exceeds the limit of {owner._limits.MaxTotalBytes} bytes", null);
            }

            return read;
        }
    }
}
