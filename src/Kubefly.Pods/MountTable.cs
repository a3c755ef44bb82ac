using Kubefly.Fly;

namespace Kubefly.Pods;

/// <summary>Which mount points lie at or under a path (a pod directory must have none before it is deleted).</summary>
public static class MountTable
{
    public static IReadOnlyList<string> MountPointsUnder(string path, string mountInfo = "/proc/self/mountinfo")
    {
        var root = path.TrimEnd('/');
        return MountInfo.Parse(File.ReadAllText(mountInfo))
            .Select(entry => entry.MountPoint)
            .Where(mountPoint => mountPoint == root || mountPoint.StartsWith(root + "/", StringComparison.Ordinal))
            .ToList();
    }
}
