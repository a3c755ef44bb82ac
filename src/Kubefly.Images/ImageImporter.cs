using System.Formats.Tar;
using Kubefly.Images.Store;
using Kubefly.Images.Unpacking;
using Kubefly.Oci;

namespace Kubefly.Images;

/// <summary>
/// `image import`: loads an image archive an air-gapped node was given (an OCI archive or `docker save`
/// output, plain or compressed with gzip or zstd) as a pull would, verified by the same policy (the
/// archive's own path is its scope), and names it as the archive names it, so a unit that asks for
/// quay.io/coreos/hyperkube:TAG finds it without a registry.
/// </summary>
public sealed class ImageImporter(ImageStore store, ImagePuller puller)
{
    public async Task<ImageRecord> ImportAsync(string file, string? name, CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(file);
        if (!File.Exists(path))
        {
            throw new ImageException($"{path} does not exist or is not a file");
        }

        var compression = Sniff(path);
        using var scratch = compression == LayerCompression.None ? null : store.CreateTempArea();
        var tar = compression == LayerCompression.None ? path : Decompress(path, compression, scratch!.NewFilePath());
        RequireEndOfArchive(tar, path);
        var kind = ArchiveKind(tar, path);
        var transport = kind == ImageTransport.OciArchive ? "oci-archive" : "docker-archive";
        var reference = ImageReference.Parse($"{transport}:{tar}");
        var asWritten = ImageReference.Parse($"{transport}:{path}");
        return await puller.PullAsync(reference, asWritten, source => Names(source.OwnNames, name, path), cancellationToken).ConfigureAwait(false);
    }

    private static List<string> Names(IReadOnlyList<string> own, string? name, string path)
    {
        var wanted = name is not null ? [name] : own;
        if (wanted.Count == 0)
        {
            throw new ImageException($"{path} does not name its image (no RepoTags, no full ref.name): give it one with --name=HOST/NAME:TAG");
        }

        return wanted.Select(n => ImageReference.TryParse(n, out var parsed, out var error) && parsed.Transport == ImageTransport.Docker
            ? parsed.ToString()
            : throw new ImageException($"{path}: \"{UntrustedText.Printable(n)}\" is not an image name{(error.Length > 0 ? $" ({error})" : string.Empty)}")).ToList();
    }

    private static LayerCompression Sniff(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        var read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return LayerDecompression.Sniff(head[..read]);
    }

    private static string Decompress(string path, LayerCompression compression, string target)
    {
        using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        using var decompressed = LayerDecompression.Open(input, compression, $"archive {path}");
        using var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        decompressed.CopyTo(output);
        return target;
    }

    /// <summary>
    /// A tar ends with two zero blocks (POSIX). .NET's gzip reader returns a cut-off stream's bytes as if
    /// they were all, and TarReader accepts a tar without its end: without this check a truncated copy
    /// would read as a smaller archive or as "not an image archive".
    /// </summary>
    private static void RequireEndOfArchive(string tar, string shownAs)
    {
        using var stream = File.OpenRead(tar);
        if (stream.Length < 1024)
        {
            throw new ImageException($"{shownAs} is not a tar archive (or a gzip or zstd one): it is too short");
        }

        var tail = new byte[1024];
        stream.Seek(-tail.Length, SeekOrigin.End);
        stream.ReadExactly(tail);
        if (tail.AsSpan().ContainsAnyExcept((byte)0))
        {
            throw new ImageException($"{shownAs} is truncated or not a tar archive: it does not end with tar's end-of-archive blocks (copy it again)");
        }
    }

    /// <summary>An OCI archive holds "oci-layout", `docker save` output "manifest.json" (newer docker writes both: the OCI layout wins).</summary>
    private static ImageTransport ArchiveKind(string tar, string shownAs)
    {
        var sawManifest = false;
        try
        {
            using var stream = File.OpenRead(tar);
            using var guarded = new TarHeaderGuard(stream, UnpackLimits.Default.MaxHeaderBytes, reason => new ImageException($"{shownAs}: {reason}"));
            using var reader = new TarReader(guarded);
            for (var count = 0; reader.GetNextEntry() is { } entry && count < 100_000; count++)
            {
                var entryName = entry.Name.TrimStart('.', '/');
                if (entryName == "oci-layout")
                {
                    return ImageTransport.OciArchive;
                }

                sawManifest |= entryName == "manifest.json";
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or OverflowException or ArgumentException or NotSupportedException)
        {
            throw new ImageException($"{shownAs} is not a tar archive (or a gzip or zstd one)", e);
        }

        return sawManifest
            ? ImageTransport.DockerArchive
            : throw new ImageException($"{shownAs} is neither an OCI archive (no oci-layout) nor `docker save` output (no manifest.json)");
    }
}
