using System.Globalization;

namespace Kubefly.Linux;

/// <summary>A user from a passwd(5) file.</summary>
public sealed record PasswdEntry(string Name, uint UserId, uint GroupId);

/// <summary>A group from a group(5) file.</summary>
public sealed record GroupEntry(string Name, uint GroupId, IReadOnlyList<string> Members);

/// <summary>
/// passwd(5) and group(5), read the way libc's files backend does: one entry per line, fields split on
/// ':', malformed lines and comments skipped. Used for the image's files (the app's user) and the host's
/// (the owner of a wrapper's directories). Plain loops, no LINQ chains: this runs on every pod start, and
/// chained iterators are slow on first use under NativeAOT.
/// </summary>
public static class Passwd
{
    /// <summary>name:password:uid:gid:gecos:home:shell</summary>
    public static IReadOnlyList<PasswdEntry> ParseUsers(string? text)
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
    public static IReadOnlyList<GroupEntry> ParseGroups(string? text)
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

    /// <summary>
    /// The user named <paramref name="user"/>, or, for a number, the first entry with that uid, or the bare
    /// uid as its own group (as `id -u NAME` and `chown NUMBER` treat local users); null when neither.
    /// </summary>
    public static PasswdEntry? Find(IReadOnlyList<PasswdEntry> users, string user)
    {
        var isNumber = TryParseId(user, out var wantedId);
        PasswdEntry? byId = null;
        foreach (var entry in users)
        {
            if (entry.Name == user)
            {
                return entry;
            }

            if (isNumber && byId is null && entry.UserId == wantedId)
            {
                byId = entry;
            }
        }

        return byId ?? (isNumber ? new PasswdEntry(user, wantedId, wantedId) : null);
    }

    /// <summary>A uid or gid: decimal digits only; (uid_t)-1 means "no change" to the kernel, never a user.</summary>
    public static bool TryParseId(string text, out uint id) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id) && id != uint.MaxValue;

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
}
