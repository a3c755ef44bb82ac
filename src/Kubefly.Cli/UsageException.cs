using Kubefly.Oci;

namespace Kubefly.Cli;

/// <summary>The command line was wrong (rkt exits 2 for these; see <see cref="ExitCodes"/>).</summary>
public sealed class UsageException : KubeflyException
{
    public UsageException(string message)
        : base(message)
    {
    }
}
