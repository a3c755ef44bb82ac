using System.Runtime.InteropServices;

namespace Kubefly.Linux;

/// <summary>A failed system call, carrying the operation, the paths or flags involved and errno.</summary>
public sealed class SyscallException : IOException
{
    public SyscallException(string operation, int errno, string? detail = null)
        : base(Format(operation, errno, detail))
    {
        Operation = operation;
        Errno = errno;
        Detail = detail;
    }

    public string Operation { get; }

    public int Errno { get; }

    public string? Detail { get; }

    /// <summary>Builds the exception from the errno the last P/Invoke left behind.</summary>
    public static SyscallException FromLastError(string operation, string? detail = null) =>
        new(operation, Marshal.GetLastPInvokeError(), detail);

    private static string Format(string operation, int errno, string? detail)
    {
        var reason = global::Kubefly.Linux.Errno.Describe(errno);
        return detail is null ? $"{operation}: {reason}" : $"{operation} {detail}: {reason}";
    }
}
