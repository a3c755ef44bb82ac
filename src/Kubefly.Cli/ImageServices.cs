using Kubefly.Images;
using Kubefly.Images.Sources;
using Kubefly.Images.Store;
using Kubefly.Oci;
using Kubefly.Trust;

namespace Kubefly.Cli;

/// <summary>The composition root for the image engine: store, sources, trust and progress from the global flags.</summary>
public sealed class ImageServices
{
    public ImageServices(GlobalOptions globals, IPullProgress progress, Platform? platform = null)
    {
        Globals = globals;
        Store = new ImageStore(globals.Dir);
        var sources = new ImageSourceFactory(OpenRegistry);
        var verifier = new RktDockerVerifier(globals.Insecure, warning => progress.Message(warning));
        Puller = new ImagePuller(Store, sources.Open, verifier, progress, platform ?? Platform.Host);
    }

    public GlobalOptions Globals { get; }

    public ImageStore Store { get; }

    public ImagePuller Puller { get; }

    /// <summary>The stored image a user named (name, reference or ID), or a clear error.</summary>
    public ImageRecord Require(string nameOrId) =>
        Store.Find(nameOrId) ?? throw new ImageException($"no image \"{UntrustedText.Printable(nameOrId)}\" in the store ({Store.Root})");

    private IImageSource OpenRegistry(ImageReference reference) =>
        throw new ImageException($"{reference}: registry transport not available in this build");
}
