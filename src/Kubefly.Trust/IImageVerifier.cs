using Kubefly.Oci;

namespace Kubefly.Trust;

/// <summary>
/// Decides whether an image may be used, before anything else about it is read (the manifest digest
/// is all a policy needs). The seam where containers-policy.json verification plugs in.
/// </summary>
public interface IImageVerifier
{
    /// <summary>
    /// Decisions that need no content (a policy's `reject`, rkt's rule for docker images), made before
    /// any network access. Throws <see cref="TrustException"/> when the image must not be used.
    /// </summary>
    void CheckReference(ImageReference reference);

    /// <summary>Throws <see cref="TrustException"/> when the image the manifest digest names must not be used.</summary>
    Task VerifyAsync(ImageReference reference, Digest manifestDigest, CancellationToken cancellationToken);
}

public sealed class TrustException : KubeflyException
{
    public TrustException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// rkt's rule for docker images: they could not be verified, so fetching one needed
/// --insecure-options=image, and then rkt warned that verification was disabled.
/// </summary>
public sealed class RktDockerVerifier : IImageVerifier
{
    private readonly InsecureOptions _insecure;
    private readonly Action<string> _warn;

    public RktDockerVerifier(InsecureOptions insecure, Action<string> warn)
    {
        _insecure = insecure;
        _warn = warn;
    }

    public void CheckReference(ImageReference reference)
    {
        if (reference.Transport == ImageTransport.Docker)
        {
            if (!_insecure.HasFlag(InsecureOptions.Image))
            {
                throw new TrustException("signature verification for docker images is not supported (try --insecure-options=image)");
            }

            _warn("image signature verification has been disabled");
        }
    }

    public Task VerifyAsync(ImageReference reference, Digest manifestDigest, CancellationToken cancellationToken) => Task.CompletedTask;
}
