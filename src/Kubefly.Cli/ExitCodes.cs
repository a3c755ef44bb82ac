using Kubefly.Linux;
using Kubefly.Oci;

namespace Kubefly.Cli;

/// <summary>The one place failures become exit codes (rkt's contract: 254 engine error, 2 usage).</summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int Usage = 2;
    public const int Engine = 254;

    public static int For(Exception exception) => exception switch
    {
        UsageException or InvalidValueException => Usage,
        KubeflyException or SyscallException or IOException or UnauthorizedAccessException or HttpRequestException => Engine,
        OperationCanceledException => Engine,
        _ => Engine,
    };

    /// <summary>
    /// The operator-facing text: our own exceptions carry context; the runtime's become kubefly's words
    /// (<see cref="RuntimeText"/>: no resource keys, no exception type names; --debug prints the trace).
    /// </summary>
    public static string Describe(Exception exception) => exception switch
    {
        KubeflyException or SyscallException => exception.Message,
        _ => RuntimeText.Describe(exception),
    };
}
