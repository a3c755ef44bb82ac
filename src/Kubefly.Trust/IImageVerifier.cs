using Kubefly.Oci;
using Kubefly.Trust.Signatures;

namespace Kubefly.Trust;

/// <summary>
/// How an image was let in, kept in its store record: shown by `image list --fields=verified`, and
/// compared with the policy in force when the image is used again.
/// </summary>
/// <param name="Summary">In an operator's words: "sigstoreSigned by key file /etc/pki/cosign.pub".</param>
/// <param name="PolicyFingerprint">What the policy required (<see cref="Policy.PolicyMatch.Fingerprint"/>), or "" when no policy was in force.</param>
/// <param name="SignaturesChecked">Whether a signature was verified (rather than the image accepted without one).</param>
public sealed record VerificationRecord(string Summary, string PolicyFingerprint, bool SignaturesChecked = false);

/// <summary>
/// Decides whether an image may be used. Checks that need no content run before any network access;
/// signatures are checked once the manifest digest is known and before any layer is downloaded.
/// </summary>
public interface IImageVerifier
{
    /// <summary>
    /// Decisions that need no content (a policy's `reject`, rkt's rule for docker images), made before
    /// any network access. Throws <see cref="TrustException"/> when the image must not be used.
    /// </summary>
    void CheckReference(ImageReference reference);

    /// <summary>Throws <see cref="TrustException"/> when the image the manifest digest names must not be used.</summary>
    Task<VerificationRecord> VerifyAsync(ImageReference reference, Digest manifestDigest, IAttachedSignatureSource? attachments, CancellationToken cancellationToken);

    /// <summary>
    /// Whether a stored image, verified as <paramref name="recorded"/> says, may be used under the policy
    /// in force without verifying it again (it asks for nothing the image was not checked for).
    /// </summary>
    bool IsCurrent(ImageReference reference, VerificationRecord? recorded);
}

public class TrustException : KubeflyException
{
    public TrustException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// rkt's rule, kept for nodes with no policy file: docker images could not be verified, so fetching
/// one needed --insecure-options=image, and then rkt warned that verification was disabled.
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
                throw new TrustException($"signature verification for docker images is not supported (try --insecure-options=image); to verify signatures instead, give kubefly a policy ({Policy.TrustPolicy.SystemPath}: see `kubefly trust set --help`)");
            }

            _warn("image signature verification has been disabled");
        }
    }

    public Task<VerificationRecord> VerifyAsync(ImageReference reference, Digest manifestDigest, IAttachedSignatureSource? attachments, CancellationToken cancellationToken) =>
        Task.FromResult(new VerificationRecord(
            reference.Transport == ImageTransport.Docker ? "not verified (no policy; --insecure-options=image)" : "not verified (no policy; local file)",
            string.Empty));

    public bool IsCurrent(ImageReference reference, VerificationRecord? recorded) => true;
}
