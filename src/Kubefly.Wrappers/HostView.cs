using System.Globalization;
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

/// <summary>A user from the host's /etc/passwd.</summary>
public sealed record PasswdEntry(string Name, uint UserId, uint GroupId);

/// <summary>What the composer asks about the host: which paths exist (following symlinks, as `test` did) and who users are.</summary>
public sealed record HostView(Func<string, HostPathKind> PathKind, Func<string, PasswdEntry?> FindUser)
{
    /// <summary>This machine, read when asked.</summary>
    public static HostView Current { get; } = new(ProbePath, name => Passwd.Find(ReadPasswd(), name));

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

/// <summary>passwd(5) lookups, as `id -u NAME` would do for local users.</summary>
public static class Passwd
{
    /// <summary>The entry named <paramref name="user"/>, or, for a number, the entry with that uid (or the bare uid).</summary>
    public static PasswdEntry? Find(string passwdText, string user)
    {
        PasswdEntry? byId = null;
        var isNumber = uint.TryParse(user, NumberStyles.None, CultureInfo.InvariantCulture, out var wantedId);
        foreach (var line in passwdText.Split('\n'))
        {
            var fields = line.Split(':');
            if (fields.Length < 4
                || !uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
                || !uint.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out var gid))
            {
                continue;
            }

            if (fields[0] == user)
            {
                return new PasswdEntry(fields[0], uid, gid);
            }

            if (isNumber && uid == wantedId && byId is null)
            {
                byId = new PasswdEntry(fields[0], uid, gid);
            }
        }

        return byId ?? (isNumber ? new PasswdEntry(user, wantedId, wantedId) : null);
    }
}
