using System.Security.Authentication;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Kubefly.Oci;

/// <summary>
/// Any exception as a user may read it, in kubefly's words. The NativeAOT build strips .NET's resource
/// strings (UseSystemResourceKeys in src/Kubefly.Cli/Kubefly.Cli.csproj): a runtime message is a bare key
/// ("IO_PathNotFound_Path, /x", "net_http_ssl_connection_failed", "Overflow_Int32"), and an exception's
/// type name means nothing to an operator. Messages written by people (kubefly's own, strerror text from
/// the OS) pass through; keys become a plain description of the exception's kind, keeping their argument
/// (a path) when they carry one.
/// </summary>
public static partial class RuntimeText
{
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        switch (exception)
        {
            case KubeflyException:
                return exception.Message;
            case AggregateException { InnerExceptions.Count: 1 } aggregate:
                return Describe(aggregate.InnerExceptions[0]);
            case JsonException:
                return JsonText.Describe(exception);
            case HttpRequestException http:
                return DescribeHttp(http);
        }

        if (!IsResourceKey(exception.Message))
        {
            return exception.Message;
        }

        var argument = KeyArgument(exception.Message);
        var kind = exception switch
        {
            DirectoryNotFoundException => "no such directory",
            FileNotFoundException => "no such file",
            PathTooLongException => "path too long",
            UnauthorizedAccessException => "permission denied",
            EndOfStreamException => "the data ends early (truncated)",
            InvalidDataException => "malformed data",
            OverflowException => "a number is out of range",
            ArgumentOutOfRangeException => "a value is out of range",
            FormatException => "a value has an invalid format",
            OutOfMemoryException => "out of memory",
            AuthenticationException => "the TLS handshake failed",
            NotSupportedException => "not supported",
            IOException => "input/output error",
            _ => "unexpected internal error",
        };
        var inner = exception.InnerException is { Message.Length: > 0 } cause && !IsResourceKey(cause.Message) ? $": {cause.Message}" : string.Empty;
        return argument is null ? kind + inner : $"{kind}: {UntrustedText.Printable(argument)}{inner}";
    }

    /// <summary>Whether a message is a runtime resource key rather than text.</summary>
    public static bool IsResourceKey(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return KeyPattern().IsMatch(message);
    }

    private static string DescribeHttp(HttpRequestException http)
    {
        var what = http.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => "cannot resolve the host name",
            HttpRequestError.ConnectionError => "cannot connect",
            HttpRequestError.SecureConnectionError => "the TLS handshake failed",
            HttpRequestError.HttpProtocolError => "the server broke the HTTP protocol",
            HttpRequestError.InvalidResponse => "the server's answer is not valid HTTP",
            HttpRequestError.ResponseEnded => "the server closed the connection before its answer ended",
            HttpRequestError.ProxyTunnelError => "the proxy refused the connection",
            HttpRequestError.ConfigurationLimitExceeded => "the server's answer exceeds a limit",
            HttpRequestError.VersionNegotiationError => "no HTTP version in common with the server",
            _ => IsResourceKey(http.Message) ? "the request failed" : http.Message,
        };
        if (http.StatusCode is { } status)
        {
            what += $" (HTTP {(int)status} {status})";
        }

        // The innermost message written by a person (the OS's strerror: "Connection refused").
        for (var cause = http.InnerException; cause is not null; cause = cause.InnerException)
        {
            if (!IsResourceKey(cause.Message) && cause.Message.Length > 0)
            {
                return $"{what}: {cause.Message}";
            }
        }

        return what;
    }

    private static string? KeyArgument(string message)
    {
        var comma = message.IndexOf(", ", StringComparison.Ordinal);
        return comma < 0 || comma + 2 == message.Length ? null : message[(comma + 2)..];
    }

    // "IO_PathNotFound_Path", "net_http_client_execution_error", "Arg_EmptyString, x": one token with an
    // underscore; System.Formats.Tar's and System.IO.Compression's keys have none ("ExtHeaderInvalidRecords",
    // "UnsupportedCompression"): one PascalCase token of two words or more.
    [GeneratedRegex(@"^([A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+|[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+)(,|$)")]
    private static partial Regex KeyPattern();
}
