using Kubefly.Images;
using Kubefly.Images.Registry;
using Kubefly.Images.Sources;
using Kubefly.Images.Store;
using Kubefly.Oci;
using Kubefly.Trust;

namespace Kubefly.Cli;

/// <summary>The composition root for the image engine: store, sources, trust and progress from the global flags.</summary>
public sealed class ImageServices
{
    private readonly Lazy<RegistryClient> _registry;

    public ImageServices(GlobalOptions globals, IPullProgress progress, Platform? platform = null)
    {
        Globals = globals;
        _registry = new Lazy<RegistryClient>(() => new RegistryClient(new RegistryClientOptions
        {
            RegistriesConf = RegistriesConf.Load(),
            Credentials = CredentialStore.FromEnvironment(),
            Insecure = globals.Insecure,
            Log = progress.Message,
        }));
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

    private RegistrySource OpenRegistry(ImageReference reference) => new(reference, _registry.Value);
}
