namespace Kubefly.Images.Unpacking;

/// <summary>How whiteouts become files.</summary>
public enum UnpackMode
{
    /// <summary>
    /// The layer alone into an empty directory, to serve as an overlayfs lowerdir: whiteouts become
    /// overlay whiteouts (char device 0:0), opaque markers the xattr trusted.overlay.opaque=y.
    /// </summary>
    OverlayLayer,

    /// <summary>Onto the tree the lower layers left (flattening): whiteouts delete what they name.</summary>
    Apply,
}

/// <summary>
/// Bounds on what one layer may make us do, so a decompression bomb, a huge entry or millions of tiny
/// entries fail with a <see cref="LayerException"/> instead of filling the disk or memory.
/// </summary>
public sealed record UnpackLimits
{
    public const long DefaultMaxTotalBytes = 64L << 30;

    /// <summary>Generous bounds for real images (a 64 GiB layer, a million entries).</summary>
    public static UnpackLimits Default { get; } = new();

    /// <summary>Small bounds for tests: they make the limits reachable with tiny inputs.</summary>
    public static UnpackLimits Small { get; } = new()
    {
        MaxEntries = 1000,
        MaxEntrySize = 1L << 20,
        MaxTotalBytes = 4L << 20,
        MaxPathLength = 1024,
        MaxXattrSize = 1024,
        MaxHeaderBytes = 64 * 1024,
    };

    public int MaxEntries { get; init; } = 1_000_000;

    /// <summary>Largest content of one regular file.</summary>
    public long MaxEntrySize { get; init; } = 16L << 30;

    /// <summary>Largest uncompressed tar stream (headers, content and padding).</summary>
    public long MaxTotalBytes { get; init; } = DefaultMaxTotalBytes;

    /// <summary>Longest entry name, link name or symlink target, in characters (PATH_MAX is 4096 bytes).</summary>
    public int MaxPathLength { get; init; } = 4096;

    /// <summary>Largest value of one extended attribute (the kernel's XATTR_SIZE_MAX is 64 KiB).</summary>
    public int MaxXattrSize { get; init; } = 64 * 1024;

    /// <summary>
    /// Largest PAX header (x, g) or GNU long name (L, K), refused before anything buffers it: TarReader
    /// would read any declared size into memory (see <see cref="TarHeaderGuard"/>).
    /// </summary>
    public int MaxHeaderBytes { get; init; } = 1 << 20;
}

/// <summary>What one layer turned into.</summary>
public sealed record UnpackStatistics
{
    public int Entries { get; init; }

    public int RegularFiles { get; init; }

    public int Directories { get; init; }

    public int Symlinks { get; init; }

    public int Hardlinks { get; init; }

    /// <summary>Character and block devices and fifos.</summary>
    public int SpecialFiles { get; init; }

    public int Whiteouts { get; init; }

    public int OpaqueDirectories { get; init; }

    /// <summary>Bytes of file content written.</summary>
    public long ContentBytes { get; init; }

    /// <summary>Regular files that became a second name of a stored file instead of a copy.</summary>
    public int LinkedFiles { get; init; }

    /// <summary>Bytes of the uncompressed tar consumed (up to its end-of-archive marker).</summary>
    public long TarBytes { get; init; }
}

/// <summary>A regular file a layer holds: its path inside the layer, size and content digest.</summary>
public readonly record struct LayerFile(string Path, long Size, Kubefly.Oci.Digest Digest)
{
    /// <summary>
    /// The exact tar bytes between the previous file's content and this one's (padding, headers of the
    /// entries between, this file's header), when they were kept (at most <see cref="MaxPrefixBytes"/>).
    /// </summary>
    public byte[]? Prefix { get; init; }

    /// <summary>The signature digest (see <see cref="EntrySignature"/>) of every entry from the previous file's content on, this file's own included.</summary>
    public ulong Signature { get; init; }

    public const int MaxPrefixBytes = 64 * 1024;
}
