namespace Kubefly.Oci;

/// <summary>
/// An engine failure with a message fit for an operator: it names the image, path or registry involved.
/// The command line maps these to exit codes in one place (Kubefly.Cli.ExitCodes).
/// </summary>
public class KubeflyException : Exception
{
    public KubeflyException(string message)
        : base(message)
    {
    }

    public KubeflyException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A value an operator gave (a flag's value, an environment variable, a volume or duration spelled out)
/// does not parse; the message names the value and what is expected. The command line reports these as
/// usage errors.
/// </summary>
public sealed class InvalidValueException : KubeflyException
{
    public InvalidValueException(string message)
        : base(message)
    {
    }
}

/// <summary>Content did not match the digest (or size) that named it.</summary>
public sealed class DigestMismatchException : KubeflyException
{
    public DigestMismatchException(string what, Digest expected, Digest actual)
        : base($"{what}: digest mismatch: expected {expected}, got {actual}")
    {
        Expected = expected;
        Actual = actual;
    }

    public DigestMismatchException(string message)
        : base(message)
    {
    }

    public Digest Expected { get; }

    public Digest Actual { get; }
}

/// <summary>An image could not be found, parsed or used; the message names the image.</summary>
public class ImageException : KubeflyException
{
    public ImageException(string message)
        : base(message)
    {
    }

    public ImageException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The registry has no manifest by that tag or digest (HTTP 404).</summary>
public sealed class ManifestUnknownException(string message) : ImageException(message);
