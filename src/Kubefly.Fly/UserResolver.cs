using System.Globalization;

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

        var numericUid = TryParseId(userPart, out var uid);
        uint numericGidValue = 0;
        var numericGid = groupPart is not null && TryParseId(groupPart, out numericGidValue);

        // Numeric ids alone need no file at all.
        if (numericUid && numericGid)
        {
            return new ResolvedUser(uid, numericGidValue, []);
        }

        var passwd = ParsePasswd(readFile("/etc/passwd"));
        PasswdEntry? entry;
        if (numericUid)
        {
            entry = passwd.FirstOrDefault(p => p.Uid == uid);
        }
        else
        {
            entry = passwd.FirstOrDefault(p => p.Name == userPart)
                ?? throw new FlyException($"user \"{userPart}\" not found in the image's /etc/passwd");
            uid = entry.Uid;
        }

        var groups = ParseGroup(readFile("/etc/group"));
        uint gid;
        if (groupPart is null)
        {
            gid = entry?.Gid ?? 0;
        }
        else if (!TryParseId(groupPart, out gid))
        {
            gid = (groups.FirstOrDefault(g => g.Name == groupPart)
                ?? throw new FlyException($"group \"{groupPart}\" not found in the image's /etc/group")).Gid;
        }

        var supplementary = entry is null
            ? new List<uint>()
            : groups.Where(g => g.Members.Contains(entry.Name, StringComparer.Ordinal)).Select(g => g.Gid).Distinct().ToList();
        return new ResolvedUser(uid, gid, supplementary);
    }

    public sealed record PasswdEntry(string Name, uint Uid, uint Gid);

    public sealed record GroupEntry(string Name, uint Gid, IReadOnlyList<string> Members);

    /// <summary>name:password:uid:gid:gecos:home:shell; malformed lines are skipped (as libc does).</summary>
    public static IReadOnlyList<PasswdEntry> ParsePasswd(string? text)
    {
        var entries = new List<PasswdEntry>();
        foreach (var fields in Lines(text))
        {
            if (fields.Length >= 4 && fields[0].Length > 0 && TryParseId(fields[2], out var uid) && TryParseId(fields[3], out var gid))
            {
                entries.Add(new PasswdEntry(fields[0], uid, gid));
            }
        }

        return entries;
    }

    /// <summary>name:password:gid:member,member</summary>
    public static IReadOnlyList<GroupEntry> ParseGroup(string? text)
    {
        var entries = new List<GroupEntry>();
        foreach (var fields in Lines(text))
        {
            if (fields.Length >= 3 && fields[0].Length > 0 && TryParseId(fields[2], out var gid))
            {
                var members = fields.Length >= 4 ? fields[3].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
                entries.Add(new GroupEntry(fields[0], gid, members));
            }
        }

        return entries;
    }

    /// <summary>The fields of each non-empty, non-comment line (a plain loop: LINQ's chained iterators are
    /// generic virtual calls, slow on first use under NativeAOT, and this runs on every pod start).</summary>
    private static List<string[]> Lines(string? text)
    {
        var lines = new List<string[]>();
        foreach (var raw in (text ?? string.Empty).Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length > 0 && !line.StartsWith('#'))
            {
                lines.Add(line.Split(':'));
            }
        }

        return lines;
    }

    private static bool TryParseId(string text, out uint id) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id) && id != uint.MaxValue;
}
