using Kubefly.Linux;

namespace Kubefly.Images.Unpacking;

/// <summary>
/// Materializes one layer's uncompressed tar stream under a root directory, as if chrooted there: no
/// entry, symlink or hardlink can reach outside it (see <see cref="RootedTree"/>). Reads with
/// <see cref="System.Formats.Tar.TarReader"/> up to the end-of-archive marker only, so the caller can
/// drain the rest of the stream to verify its digest. Nothing is fsynced; call
/// <see cref="SyncFilesystem"/> once when every layer is in place.
/// </summary>
public sealed class LayerUnpacker
{
    private readonly Action<string>? _warn;

    public LayerUnpacker(UnpackMode mode, UnpackLimits limits, Action<string>? warn = null)
    {
        ArgumentNullException.ThrowIfNull(limits);
        Mode = mode;
        Limits = limits;
        _warn = warn;
    }

    public UnpackMode Mode { get; }

    public UnpackLimits Limits { get; }

    /// <summary>Where every non-empty regular file goes, with its content digest (hashed as written) and its tar prefix; null: nowhere.</summary>
    public ILayerFileSink? FileSink { get; init; }

    /// <summary>
    /// Unpacks <paramref name="uncompressedTar"/> into <paramref name="rootDirectory"/> (which must exist;
    /// empty for <see cref="UnpackMode.OverlayLayer"/>). Failures are <see cref="LayerException"/>s naming
    /// <paramref name="layerDescription"/> and the entry; what was written before a failure stays.
    /// </summary>
    /// <param name="localContent">
    /// (Overlay layers only) where contents the store already holds come from: a file whose stored copy
    /// has the entry's exact owner, mode, times and no extended attributes is hardlinked to it; others are
    /// copied by the kernel (copy_file_range, a reflink where the filesystem can). Stored layers are never
    /// written, so a shared inode never changes.
    /// </param>
    public UnpackStatistics Unpack(Stream uncompressedTar, string rootDirectory, string layerDescription, CancellationToken cancellationToken, ILocalContent? localContent = null)
    {
        ArgumentNullException.ThrowIfNull(uncompressedTar);
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        using var extraction = new LayerExtraction(Mode, Limits, _warn, rootDirectory, layerDescription, cancellationToken, FileSink, Mode == UnpackMode.OverlayLayer ? localContent : null);
        return extraction.Run(uncompressedTar);
    }

    /// <summary>syncfs(2) on the filesystem holding <paramref name="rootDirectory"/>: one flush for a whole image.</summary>
    public static void SyncFilesystem(string rootDirectory)
    {
        using var root = Interop.OpenDirectory(rootDirectory);
        Interop.Syncfs(root, rootDirectory);
    }
}
