using Kubefly.Oci;

namespace Kubefly.Images.Sources;

/// <summary>oci-archive:FILE[:TAG]: a tar of an OCI image layout, copied to scratch space and read as a layout.</summary>
public static class OciArchiveSource
{
    public static IImageSource Open(ImageReference reference, string scratchDirectory)
    {
        var files = ArchiveFiles.Extract(reference.Path!, scratchDirectory, reference.Original);
        try
        {
            var layout = Path.Combine(scratchDirectory, "layout");
            var blobs = Path.Combine(layout, "blobs", Digest.Sha256Algorithm);
            Directory.CreateDirectory(blobs);
            File.Copy(files.Get("oci-layout", reference.Original), Path.Combine(layout, "oci-layout"));
            File.Copy(files.Get("index.json", reference.Original), Path.Combine(layout, "index.json"));
            const string prefix = "blobs/sha256/";
            var moved = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (name, path) in files.Files)
            {
                // Only names that are valid digests become blob files; anything else in the archive is ignored.
                if (name.StartsWith(prefix, StringComparison.Ordinal) && Digest.TryParseLoose(name[prefix.Length..], out var digest))
                {
                    var target = Path.Combine(blobs, digest.Hex);
                    if (File.Exists(target))
                    {
                        continue;
                    }

                    if (moved.TryGetValue(path, out var first))
                    {
                        File.Copy(first, target);
                    }
                    else
                    {
                        File.Move(path, target);
                        moved[path] = target;
                    }
                }
            }

            return new OciLayoutSource(reference, layout, files.Dispose);
        }
        catch
        {
            files.Dispose();
            throw;
        }
    }
}
