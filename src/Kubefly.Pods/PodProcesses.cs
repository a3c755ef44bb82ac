using System.Globalization;
using System.Text;
using Kubefly.Linux;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Pods;

/// <summary>
/// Which processes belong to a pod. A pod is its mount namespace: the fly stage records the namespace's
/// id ("mnt:[INODE]") before it execs the app, and every process the app starts shares it, whatever its
/// session or process group. A namespace id is reused once the namespace is gone (the next pod often gets
/// it), so a namespace counts as the pod's only when a process in it shows the pod's uuid in its mount
/// table (the rootfs overlay's upper directory lies in the pod directory). See docs/adr/0009-a-pod-is-its-mount-namespace.md.
/// </summary>
public sealed class PodProcesses
{
    /// <summary>A pod's mount table mentions its uuid within this many bytes (the rootfs comes early); a bound on hostile input.</summary>
    private const int MountTableLimit = 4 << 20;

    private readonly Dictionary<string, List<int>> byNamespace;

    private PodProcesses(Dictionary<string, List<int>> byNamespace) => this.byNamespace = byNamespace;

    /// <summary>Every process now on the node, by mount namespace, except the caller itself.</summary>
    public static PodProcesses Snapshot()
    {
        var self = Environment.ProcessId;
        var result = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        foreach (var pid in ProcessIds())
        {
            if (pid != self && MountNamespaceOf(pid) is { } ns)
            {
                if (!result.TryGetValue(ns, out var list))
                {
                    result[ns] = list = [];
                }

                list.Add(pid);
            }
        }

        return new PodProcesses(result);
    }

    /// <summary>The pids in the pod's namespace, or none when that namespace id now belongs to someone else.</summary>
    public IReadOnlyList<int> Of(PodUuid uuid, string? mountNamespace)
    {
        if (mountNamespace is null || !byNamespace.TryGetValue(mountNamespace, out var pids))
        {
            return [];
        }

        foreach (var pid in pids)
        {
            switch (ShowsPod(pid, uuid))
            {
                case true:
                    return pids;
                case false:
                    return [];
            }

            // null: that process is gone; ask the next one.
        }

        return [];
    }

    /// <summary>"mnt:[INODE]" of a process, or null when it is gone or unreadable.</summary>
    public static string? MountNamespaceOf(int pid)
    {
        try
        {
            return Interop.Readlink($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/ns/mnt");
        }
        catch (SyscallException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether the process's mount table shows the pod (its uuid in a mount's path or options): true,
    /// false, or null when the process is gone.
    /// </summary>
    public static bool? ShowsPod(int pid, PodUuid uuid)
    {
        try
        {
            using var stream = new FileStream($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/mountinfo", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            var needle = Encoding.ASCII.GetBytes(uuid.Value);
            var buffer = new byte[64 * 1024];
            var kept = 0;
            var total = 0;
            while (total < MountTableLimit)
            {
                var read = stream.Read(buffer, kept, buffer.Length - kept);
                if (read == 0)
                {
                    return false;
                }

                total += read;
                var filled = kept + read;
                if (buffer.AsSpan(0, filled).IndexOf(needle) >= 0)
                {
                    return true;
                }

                // Keep the tail that could hold the start of the uuid split across two reads.
                kept = Math.Min(needle.Length - 1, filled);
                buffer.AsSpan(filled - kept, kept).CopyTo(buffer);
            }

            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to each process of the pod through a pidfd, after checking, on the
    /// opened handle's process, that it is still in the pod's namespace and shows the pod: a pid that was
    /// reused in between is never signalled. Returns the pids signalled.
    /// </summary>
    public static IReadOnlyList<int> Signal(IReadOnlyList<int> pids, PodUuid uuid, string mountNamespace, int signal)
    {
        var signalled = new List<int>();
        foreach (var pid in pids)
        {
            using SafeFileHandle? process = Interop.TryOpenProcess(pid);
            if (process is null || MountNamespaceOf(pid) != mountNamespace || ShowsPod(pid, uuid) != true)
            {
                continue;
            }

            if (Interop.TrySignal(process, signal) == 0)
            {
                signalled.Add(pid);
            }
        }

        return signalled;
    }

    /// <summary>
    /// Processes holding an open descriptor on <paramref name="podDirectory"/>: the pod lock's holders.
    /// Used to name the processes that keep a pod "running" after leaving its namespace.
    /// </summary>
    public static IReadOnlyList<int> HoldersOf(string podDirectory)
    {
        var holders = new List<int>();
        var self = Environment.ProcessId;
        foreach (var pid in ProcessIds())
        {
            if (pid == self)
            {
                continue;
            }

            var fdDirectory = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/fd";
            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries(fdDirectory))
                {
                    string target;
                    try
                    {
                        target = Interop.Readlink(fd);
                    }
                    catch (SyscallException)
                    {
                        continue;
                    }

                    if (target == podDirectory)
                    {
                        holders.Add(pid);
                        break;
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile.
            }
        }

        return holders;
    }

    private static IEnumerable<int> ProcessIds()
    {
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(entry.AsSpan()), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                yield return pid;
            }
        }
    }
}
