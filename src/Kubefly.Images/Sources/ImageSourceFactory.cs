using Kubefly.Images.Store;
using Kubefly.Oci;

namespace Kubefly.Images.Sources;

/// <summary>Opens the right source for a reference's transport.</summary>
public sealed class ImageSourceFactory(Func<ImageReference, IImageSource> openRegistry)
{
    public IImageSource Open(ImageReference reference, TempArea scratch) => reference.Transport switch
    {
        ImageTransport.Docker => openRegistry(reference),
        ImageTransport.OciLayout => new OciLayoutSource(reference),
        ImageTransport.OciArchive => OciArchiveSource.Open(reference, Path.Combine(scratch.Path, "archive")),
        ImageTransport.DockerArchive => DockerArchiveSource.Open(reference, Path.Combine(scratch.Path, "archive")),
        _ => throw new ImageException($"{reference.Original}: unsupported transport"),
    };
}
