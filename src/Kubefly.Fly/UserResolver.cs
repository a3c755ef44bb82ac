using Kubefly.Linux;

namespace Kubefly.Fly;

/// <summary>The credentials the app runs with.</summary>
public sealed record ResolvedUser(uint Uid, uint Gid, IReadOnlyList<uint> SupplementaryGroups);

/// <summary>
/// Resolves --user/--group ("name", "uid", "uid:gid", "name:group"; --group overrides the group part)
/// against the image's /etc/passwd and /etc/group. Pure: the caller supplies the files' text through
/// <c>readFile</c> (null when a file is missing), which is only called when a lookup is needed.
/// </summary>
public static class UserResolver
{
    public static ResolvedUser Resolve(string? user, string? group, Func<string, string?> readFile)
    {
        var userPart = string.IsNullOrEmpty(user) ? "0" : user;
        string? groupPart = null;
        var colon = userPart.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            groupPart = userPart[(colon + 1)..];
            userPart = userPart[..colon];
            if (userPart.Length == 0 || groupPart.Length == 0)
            {
                throw new FlyException($"user \"{user}\": expected NAME, UID, UID:GID or NAME:GROUP");
            }
        }

        if (!string.IsNullOrEmpty(group))
        {
            groupPart = group;
        }

        var numericUid = Passwd.TryParseId(userPart, out var uid);
        uint numericGidValue = 0;
        var numericGid = groupPart is not null && Passwd.TryParseId(groupPart, out numericGidValue);

        // Numeric ids alone need no file at all.
        if (numericUid && numericGid)
        {
            return new ResolvedUser(uid, numericGidValue, []);
        }

        var passwd = Passwd.ParseUsers(readFile("/etc/passwd"));
        PasswdEntry? entry;
        if (numericUid)
        {
            entry = passwd.FirstOrDefault(p => p.UserId == uid);
        }
        else
        {
            entry = passwd.FirstOrDefault(p => p.Name == userPart)
                ?? throw new FlyException($"user \"{userPart}\" not found in the image's /etc/passwd");
            uid = entry.UserId;
        }

        var groups = Passwd.ParseGroups(readFile("/etc/group"));
        uint gid;
        if (groupPart is null)
        {
            gid = entry?.GroupId ?? 0;
        }
        else if (!Passwd.TryParseId(groupPart, out gid))
        {
            gid = (groups.FirstOrDefault(g => g.Name == groupPart)
                ?? throw new FlyException($"group \"{groupPart}\" not found in the image's /etc/group")).GroupId;
        }

        var supplementary = entry is null
            ? new List<uint>()
            : groups.Where(g => g.Members.Contains(entry.Name, StringComparer.Ordinal)).Select(g => g.GroupId).Distinct().ToList();
        return new ResolvedUser(uid, gid, supplementary);
    }
}
