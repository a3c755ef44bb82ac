using Kubefly.Images;
using Kubefly.Images.Registry;
using Kubefly.Images.Sources;
using Kubefly.Images.Store;
using Kubefly.Oci;
using Kubefly.Trust;
using Kubefly.Trust.Policy;
using Kubefly.Trust.Signatures;

namespace Kubefly.Cli;

/// <summary>The composition root for the image engine: store, sources, trust and progress from the global flags.</summary>
public sealed class ImageServices
{
    private readonly Lazy<RegistryClient> _registry;
    private readonly Lazy<ImagePuller> _puller;
    private readonly GlobalOptions _globals;
    private readonly IPullProgress _progress;
    private readonly Lazy<IImageVerifier> _verifier;

    public ImageServices(GlobalOptions globals, IPullProgress progress, Platform? platform = null)
    {
        _globals = globals;
        _progress = progress;
        _registry = new Lazy<RegistryClient>(() => new RegistryClient(new RegistryClientOptions
        {
            RegistriesConf = RegistriesConf.Load(),
            Credentials = CredentialStore.FromEnvironment(),
            Insecure = globals.Insecure,
            Log = progress.Message,
        }));
        Store = new ImageStore(globals.Dir);
        var sources = new ImageSourceFactory(OpenRegistry);
        // The policy is read only by commands that fetch or run: a broken policy.json must not stop
        // `image list` or `image rm`, which an operator needs to repair the node.
        _verifier = new Lazy<IImageVerifier>(() => CreateVerifier(globals, progress));
        _puller = new Lazy<ImagePuller>(() => new ImagePuller(Store, sources.Open, _verifier.Value, progress, platform ?? Platform.Host));
    }

    public ImageStore Store { get; }

    public ImagePuller Puller => _puller.Value;

    /// <summary>The trust policy in force (read on first use), as fetches apply it.</summary>
    public IImageVerifier Verifier => _verifier.Value;

    /// <summary>
    /// The image for `run` and `fetch`: from the store, else from an archive waiting in DIR/import/, else
    /// fetched as the pull policy allows. The import directory is only read when the store lacks the image.
    /// </summary>
    public async Task<ImageRecord> AcquireAsync(string image, PullPolicy policy, CancellationToken cancellationToken)
    {
        var imports = ImportDirectory;
        if (imports.HoldsArchives() && Store.Find(image) is null && await imports.ImportPendingAsync(cancellationToken).ConfigureAwait(false) > 0)
        {
            _progress.Message($"{image}: looked for it among the archives imported from {ImportDirectory.Path}");
        }

        return await Puller.AcquireAsync(image, policy, cancellationToken).ConfigureAwait(false);
    }

    public ImportDirectory ImportDirectory => new(_globals.Dir, new ImageImporter(Store, Puller), _progress.Message);

    /// <summary>The stored image a user named (name, reference or ID), or a clear error.</summary>
    public ImageRecord Require(string nameOrId) =>
        Store.Find(nameOrId) ?? throw new ImageException($"no image \"{UntrustedText.Printable(nameOrId)}\" in the store ({Store.Root}): `kubefly image list` shows what it holds");

    /// <summary>The policy in force decides; with none on the node, rkt's rule for docker images stays.</summary>
    private static IImageVerifier CreateVerifier(GlobalOptions globals, IPullProgress progress)
    {
        if (TrustPolicy.LoadDefault(globals.Policy) is not { } policy)
        {
            return new RktDockerVerifier(globals.Insecure, progress.Message);
        }

        var lookasideHttp = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(15), MaxAutomaticRedirections = 5 })
        {
            Timeout = TimeSpan.FromSeconds(60),
        };
        return new PolicyVerifier(policy, () => RegistriesD.LoadDefault(null), globals.Insecure, progress.Message, lookasideHttp);
    }

    /// <summary>The registry an image lives in, for writing to it (`image sign`).</summary>
    public RegistrySource OpenRegistrySource(ImageReference reference) => OpenRegistry(reference);

    private RegistrySource OpenRegistry(ImageReference reference) => new(reference, _registry.Value);
}
