using Kubefly.Linux;

namespace Kubefly.Fly;

/// <summary>
/// Host-side mount set-up the wrappers need before the engine starts: the kubelet's directory is made a
/// shared mount point on the host, so the pod's rshared volume of it is bidirectional even on a host
/// whose "/" is private (see docs/wrappers.md and docs/adr/0007-host-volume-propagation.md).
/// </summary>
public static class HostMountPoints
{
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
        var entry = FindTopMount(MountInfo.ReadCurrentThread(), canonical);
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
        FindTopMount(MountInfo.ReadCurrentThread(), Canonical(directory)) is { IsShared: true };

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
