using System.Text;
using Kubefly.Linux;

namespace Kubefly.Fly;

/// <summary>
/// Host-side mount set-up the wrappers need before the engine starts: the kubelet's directory must be
/// a shared mount point on the host, so the pod's rshared bind of it joins the host's peer group (see
/// machine.md, "Bidirectional (rshared) volumes").
/// </summary>
public static class HostMountPoints
{
    // thread-self: mount namespaces can differ between threads (unshare acts on the calling thread).
    private const string MountInfoPath = "/proc/thread-self/mountinfo";

    /// <summary>What was done to make a path a shared mount point.</summary>
    public enum SharedSetup
    {
        /// <summary>It already was a shared mount point.</summary>
        AlreadyShared,

        /// <summary>It was a mount point with other propagation; it was made shared.</summary>
        MadeShared,

        /// <summary>It was a plain directory; it was bind-mounted onto itself and made shared.</summary>
        BoundAndMadeShared,
    }

    /// <summary>
    /// Makes <paramref name="directory"/> a shared mount point in the caller's mount namespace: bind it
    /// onto itself when it is not a mount point, then set MS_SHARED when it is not shared yet.
    /// Decided from the calling thread's mountinfo, so calling it again changes nothing.
    /// </summary>
    public static SharedSetup EnsureShared(string directory)
    {
        var canonical = Canonical(directory);
        var entry = FindTopMount(ReadMountInfo(), canonical);
        if (entry is { IsShared: true })
        {
            return SharedSetup.AlreadyShared;
        }

        var bound = false;
        if (entry is null)
        {
            // MS_REC so mounts already under the directory stay visible through the new mount point.
            Interop.Mount(canonical, canonical, null, Interop.MS_BIND | Interop.MS_REC);
            bound = true;
        }

        Interop.Mount(null, canonical, null, Interop.MS_SHARED);
        return bound ? SharedSetup.BoundAndMadeShared : SharedSetup.MadeShared;
    }

    /// <summary>True when <paramref name="directory"/> is a mount point whose top mount is shared.</summary>
    public static bool IsSharedMountPoint(string directory) =>
        FindTopMount(ReadMountInfo(), Canonical(directory)) is { IsShared: true };

    /// <summary>The mount stacked last on <paramref name="mountPoint"/> (the one path lookups see), or null.</summary>
    public static MountInfoEntry? FindTopMount(IReadOnlyList<MountInfoEntry> entries, string mountPoint)
    {
        MountInfoEntry? top = null;
        foreach (var entry in entries)
        {
            if (entry.MountPoint == mountPoint)
            {
                top = entry;
            }
        }

        return top;
    }

    public static IReadOnlyList<MountInfoEntry> ReadMountInfo() =>
        File.ReadAllLines(MountInfoPath).Select(MountInfoEntry.Parse).ToList();

    private static string Canonical(string path)
    {
        var full = Path.GetFullPath(path);
        var info = new DirectoryInfo(full);
        if (!info.Exists)
        {
            throw new DirectoryNotFoundException($"cannot make {path} a shared mount point: no such directory");
        }

        // mountinfo names mount points by their real path, so resolve every symlink on the way.
        return ResolveAllLinks(full);
    }

    private static string ResolveAllLinks(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = "/";
        for (var i = 0; i < parts.Length; i++)
        {
            var next = Path.Combine(current, parts[i]);
            var target = new FileInfo(next).LinkTarget;
            if (target is not null)
            {
                var resolved = Path.GetFullPath(target, current);
                var rest = string.Join('/', parts[(i + 1)..]);
                return ResolveAllLinks(rest.Length == 0 ? resolved : Path.Combine(resolved, rest));
            }

            current = next;
        }

        return current;
    }
}

/// <summary>One line of /proc/PID/mountinfo (proc(5)).</summary>
public sealed record MountInfoEntry(int MountId, int ParentId, string Root, string MountPoint, IReadOnlyList<string> OptionalFields, string FileSystemType, string Source)
{
    /// <summary>Member of a peer group: mounts and unmounts under it propagate to its peers.</summary>
    public bool IsShared => OptionalFields.Any(tag => tag.StartsWith("shared:", StringComparison.Ordinal));

    /// <summary>Receives propagation from a master peer group.</summary>
    public bool IsSlave => OptionalFields.Any(tag => tag.StartsWith("master:", StringComparison.Ordinal));

    public static MountInfoEntry Parse(string line)
    {
        // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
        var fields = line.Split(' ');
        var separator = fields.Length < 10 ? -1 : Array.IndexOf(fields, "-", 6);
        if (separator < 0 || separator + 2 >= fields.Length)
        {
            throw new FormatException($"unexpected mountinfo line: {line}");
        }

        return new MountInfoEntry(
            MountId: int.Parse(fields[0], System.Globalization.CultureInfo.InvariantCulture),
            ParentId: int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture),
            Root: Unescape(fields[3]),
            MountPoint: Unescape(fields[4]),
            OptionalFields: fields[6..separator],
            FileSystemType: fields[separator + 1],
            Source: Unescape(fields[separator + 2]));
    }

    /// <summary>The kernel writes space, tab, newline and backslash in paths as \ooo octal escapes.</summary>
    public static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var bytes = new List<byte>(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                bytes.Add((byte)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(string text, int start) =>
        start + 3 <= text.Length && text.Substring(start, 3).All(c => c is >= '0' and <= '7');
}
