using System.Formats.Tar;
using System.Text.Json;
using Kubefly.Images.Store;
using Kubefly.Images.Unpacking;
using Kubefly.Linux;
using Kubefly.Oci;

namespace Kubefly.Images;

/// <summary>Writes stored images out: as an oci-archive, or flattened into a directory tree.</summary>
public static class ImageExporter
{
    private const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    /// <summary>An oci-archive (a tar of an OCI layout) readable by skopeo, podman and `kubefly fetch oci-archive:`.</summary>
    public static void ExportOciArchive(ImageStore store, ImageRecord record, string file, bool overwrite)
    {
        if (File.Exists(file) && !overwrite)
        {
            throw new ImageException($"{file} already exists (use --overwrite)");
        }

        var parent = Path.GetDirectoryName(Path.GetFullPath(file));
        if (parent is not null && !Directory.Exists(parent))
        {
            throw new ImageException($"cannot export image {record.ManifestDigest} to {file}: directory {parent} does not exist");
        }

        RequireLayerBlobs(store, record);
        var tag = record.Names.Count > 0 && ImageReference.TryParse(record.Names[0], out var reference, out _) ? reference.Tag : null;
        var index = new ImageIndex
        {
            SchemaVersion = 2,
            MediaType = MediaTypes.OciIndex,
            Manifests =
            [
                new Descriptor
                {
                    MediaType = record.ManifestMediaType,
                    Digest = record.ManifestDigest,
                    Size = new FileInfo(store.BlobPath(record.ManifestDigest)).Length,
                    Annotations = tag is null ? null : new Dictionary<string, string> { [RefNameAnnotation] = tag },
                },
            ],
        };

        var temp = file + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write))
            using (var writer = new TarWriter(output, TarEntryFormat.Pax))
            {
                AddBytes(writer, "oci-layout", JsonSerializer.SerializeToUtf8Bytes(new OciLayoutMarker(), OciJsonContext.Default.OciLayoutMarker));
                AddBytes(writer, "index.json", JsonSerializer.SerializeToUtf8Bytes(index, OciJsonContext.Default.ImageIndex));
                var blobs = new[] { record.ManifestDigest, record.ConfigDigest }.Concat(record.Layers.Select(l => l.Blob)).Distinct();
                foreach (var blob in blobs)
                {
                    writer.WriteEntry(store.BlobPath(blob), $"blobs/sha256/{blob.Hex}");
                }
            }

            File.Move(temp, file, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageException($"cannot export image {record.ManifestDigest} to {file}: {RuntimeText.Describe(e)}", e);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>
    /// Flattens the layers in order into DIR/rootfs (or DIR itself with <paramref name="rootfsOnly"/>),
    /// applying whiteouts, with the manifest and config beside it.
    /// </summary>
    public static void Extract(ImageStore store, ImageRecord record, string directory, bool rootfsOnly, bool overwrite, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(record);
        RequireLayerBlobs(store, record);
        directory = Path.GetFullPath(directory);
        var existed = Directory.Exists(directory);
        if (existed && Directory.EnumerateFileSystemEntries(directory).Any())
        {
            if (!overwrite)
            {
                throw new ImageException($"{directory} is not empty (use --overwrite)");
            }

            // The directory stays (its owner, mode, a mount on it); only its content goes.
            TreeRemover.RemoveContents(directory);
        }

        // What this extraction creates, so a failure removes that and nothing else.
        var created = existed ? null : TopmostMissing(directory);
        try
        {
            ExtractInto(store, record, directory, rootfsOnly, cancellationToken);
        }
        catch (Exception e) when (e is KubeflyException or IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            try
            {
                if (created is null)
                {
                    TreeRemover.RemoveContents(directory);
                }
                else if (Path.Exists(created))
                {
                    TreeRemover.Remove(created);
                }
            }
            catch (IOException cleanup)
            {
                Console.Error.WriteLine($"warning: could not remove the partial extraction in {directory}: {cleanup.Message}");
            }

            if (e is IOException or UnauthorizedAccessException)
            {
                throw new ImageException($"cannot extract image {record.ManifestDigest} into {directory}: {RuntimeText.Describe(e)}", e);
            }

            throw;
        }
    }

    /// <summary>
    /// A layer pulled partially (only the files the store lacked) left no compressed blob to write out:
    /// say so, and how to get it, before anything is written.
    /// </summary>
    private static void RequireLayerBlobs(ImageStore store, ImageRecord record)
    {
        if (record.Layers.FirstOrDefault(l => !store.HasBlob(l.Blob)) is { } missing)
        {
            var name = record.Names.Count > 0 ? record.Names[0] : record.ManifestDigest.ToString();
            throw new ImageException($"image {record.ManifestDigest}: layer {missing.Blob} was pulled partially (only the files the store lacked), so the store has no copy of its compressed blob; fetch it whole first: kubefly fetch --pull-policy=update --partial=false {name}");
        }
    }

    private static void ExtractInto(ImageStore store, ImageRecord record, string directory, bool rootfsOnly, CancellationToken cancellationToken)
    {
        var rootfs = rootfsOnly ? directory : Path.Combine(directory, "rootfs");
        Directory.CreateDirectory(rootfs);
        if (!rootfsOnly)
        {
            File.WriteAllBytes(Path.Combine(directory, "manifest.json"), store.ReadBlob(record.ManifestDigest));
            File.WriteAllBytes(Path.Combine(directory, "config.json"), store.ReadBlob(record.ConfigDigest));
        }

        var unpacker = new LayerUnpacker(UnpackMode.Apply, UnpackLimits.Default);
        foreach (var layer in record.Layers)
        {
            var description = $"{layer.Blob} of {record.ManifestDigest}";
            using var blob = new DigestingStream(File.OpenRead(store.BlobPath(layer.Blob)), $"layer {description}", layer.Blob, layer.Size);
            using var decompressed = LayerDecompression.Open(blob, MediaTypes.LayerCompressionOf(layer.MediaType), description);
            using var tar = new DigestingStream(decompressed, $"layer {description} (diff_id)", layer.DiffId, leaveOpen: true);
            unpacker.Unpack(tar, rootfs, description, cancellationToken);
            tar.DrainAndVerify();
        }
    }

    /// <summary>The highest missing path on the way to <paramref name="directory"/> (which is missing); never anything that exists.</summary>
    private static string TopmostMissing(string directory)
    {
        var topmost = directory;
        for (var parent = Path.GetDirectoryName(directory); parent is not null && !Path.Exists(parent); parent = Path.GetDirectoryName(parent))
        {
            topmost = parent;
        }

        return topmost;
    }

    private static void AddBytes(TarWriter writer, string name, byte[] content)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = new MemoryStream(content),
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        };
        writer.WriteEntry(entry);
    }
}
