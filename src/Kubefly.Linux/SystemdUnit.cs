namespace Kubefly.Linux;

/// <summary>Which systemd unit a process runs in, read from its cgroup path (systemd names each unit's cgroup after it).</summary>
public static class SystemdUnit
{
    /// <summary>The unit of this process, or null when it is not in a service (a shell, a test).</summary>
    public static string? OfThisProcess()
    {
        try
        {
            return FromCgroupFile(File.ReadAllText("/proc/self/cgroup"));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// From /proc/PID/cgroup: the unified line ("0::/system.slice/kubelet.service"), else the named
    /// systemd hierarchy of a hybrid host (whose unified line may be just "0::/"); the innermost ".service" in the path (a service may make
    /// sub-cgroups of its own below it). Scopes (a login shell's) are not services and give null.
    /// </summary>
    public static string? FromCgroupFile(string text)
    {
        string? unified = null, named = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("0::", StringComparison.Ordinal))
            {
                unified = Service(line[3..]);
            }
            else if (line.IndexOf(":name=systemd:", StringComparison.Ordinal) is var at and >= 0)
            {
                named = Service(line[(at + ":name=systemd:".Length)..]);
            }
        }

        return unified ?? named;
    }

    private static string? Service(string path) =>
        path.Split('/').LastOrDefault(part => part.EndsWith(".service", StringComparison.Ordinal) && part.Length > ".service".Length);
}
