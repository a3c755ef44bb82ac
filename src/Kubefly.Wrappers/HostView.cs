using Kubefly.Linux;

namespace Kubefly.Wrappers;

public enum HostPathKind
{
    Missing,
    Directory,
    Socket,

    /// <summary>Anything else that exists: a file, a device, a fifo.</summary>
    Other,
}

/// <summary>What the composer asks about the host: which paths exist (following symlinks, as `test` did) and who users are.</summary>
public sealed record HostView(Func<string, HostPathKind> PathKind, Func<string, PasswdEntry?> FindUser)
{
    /// <summary>This machine, read when asked.</summary>
    public static HostView Current { get; } = new(ProbePath, name => Passwd.Find(Passwd.ParseUsers(ReadPasswd()), name));

    public static HostPathKind ProbePath(string path)
    {
        if (Interop.TryGetPathStatus(path, followSymlinks: true, out var status) != 0)
        {
            return HostPathKind.Missing;
        }

        return status.IsDirectory ? HostPathKind.Directory : status.IsSocket ? HostPathKind.Socket : HostPathKind.Other;
    }

    private static string ReadPasswd()
    {
        try
        {
            return File.ReadAllText("/etc/passwd");
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }
}
