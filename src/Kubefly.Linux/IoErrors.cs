namespace Kubefly.Linux;

/// <summary>
/// Operator-facing text for file errors. The binary is built with UseSystemResourceKeys, which turns
/// .NET's own messages into resource keys, so the common cases are spelled out here the way Go's
/// errors (and rkt) spelled them.
/// </summary>
public static class IoErrors
{
    public static string Describe(Exception exception, string operation, string path) => exception switch
    {
        FileNotFoundException or DirectoryNotFoundException => $"{operation} {path}: no such file or directory",
        UnauthorizedAccessException => $"{operation} {path}: permission denied",
        PathTooLongException => $"{operation} {path}: file name too long",
        SyscallException => exception.Message,
        _ => $"{operation} {path}: {exception.Message}",
    };
}
