using Kubefly.Images.Store;
using Kubefly.Linux;
using Kubefly.Oci;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Pods;

/// <summary>A uuid that names no pod, names several, or is empty; the message is rkt's.</summary>
public sealed class PodLookupException(string message) : KubeflyException(message);

/// <summary>
/// The pods under &lt;dir&gt;/pods/, and the transient ones under the state directory's runtime
/// directory in /run (<see cref="RuntimeDirectory"/>, docs/adr/0015-transient-pods.md), one directory per
/// pod in the directory of its state (embryo, prepare, prepared, run, exited-garbage, garbage), each
/// guarded by an flock on the pod directory itself. The lock lives on the open directory, so it survives
/// renames between states and, inherited by the app across exec, says "running" for exactly as long as
/// the app lives. A pod never moves between the two places; every lookup sees both.
/// </summary>
public sealed class PodStore
{
    private PodProcesses? processes;

    private static readonly PodLocation[] LookupOrder =
        [PodLocation.Embryo, PodLocation.Prepare, PodLocation.Prepared, PodLocation.Run, PodLocation.ExitedGarbage, PodLocation.Garbage];

    /// <param name="dataDirectory">The state directory.</param>
    /// <param name="transient">Whether <see cref="Create"/> makes pods in /run rather than on the state disk.</param>
    public PodStore(string dataDirectory, bool transient = false)
    {
        DataDirectory = dataDirectory;
        PersistentPodsDirectory = Path.Combine(dataDirectory, "pods");
        TransientPodsDirectory = Path.Combine(RuntimeDirectory.For(dataDirectory), "pods");
        Transient = transient;
    }

    public string DataDirectory { get; }

    /// <summary>Where <see cref="Create"/> makes pods: DIR/pods, or the runtime directory's pods/ for a transient store.</summary>
    public string PodsDirectory => Transient ? TransientPodsDirectory : PersistentPodsDirectory;

    public string PersistentPodsDirectory { get; }

    public string TransientPodsDirectory { get; }

    public bool Transient { get; }

    /// <summary>
    /// The node's processes by mount namespace, read once and shared by every pod opened until
    /// <see cref="ForgetProcesses"/> (a command that polls forgets it between polls).
    /// </summary>
    public PodProcesses Processes => processes ??= PodProcesses.Snapshot();

    public void ForgetProcesses() => processes = null;

    /// <summary>Where a pod in <paramref name="location"/> stands in the pods directory <see cref="Create"/> uses.</summary>
    public string PathOf(PodLocation location, PodUuid uuid) => PathOf(PodsDirectory, location, uuid);

    public static string PathOf(string podsDirectory, PodLocation location, PodUuid uuid) => Path.Combine(podsDirectory, location.DirectoryName(), uuid.Value);

    /// <summary>Creates an embryo, locks it and moves it to prepare/: the caller owns a pod in state preparing.</summary>
    public Pod Create(PodUuid? chosen = null)
    {
        EnsureDirectories();
        var uuid = chosen ?? PodUuid.NewRandom();
        var embryo = PathOf(PodsDirectory, PodLocation.Embryo, uuid);
        UnixFiles.CreateDirectory(embryo, UnixFiles.Mode0750);
        var handle = Interop.OpenDirectory(embryo);
        try
        {
            if (!Interop.Flock(handle, exclusive: true, wait: false, embryo))
            {
                throw new KubeflyException($"pod {uuid}: embryo {embryo} is locked by someone else");
            }

            var pod = new Pod(this, PodsDirectory, uuid, PodLocation.Embryo, handle, locked: true, createdByMe: true);
            pod.MoveTo(PodLocation.Prepare);
            return pod;
        }
        catch
        {
            handle.Dispose();
            TryDeleteDirectory(embryo);
            throw;
        }
    }

    /// <summary>
    /// Resolves a full uuid or a unique prefix among pods that can be addressed (all but embryos).
    /// Errors: "UUID cannot be empty", "no matches found for \"x\"", "ambiguous uuid, N matches".
    /// </summary>
    public PodUuid Resolve(string uuidOrPrefix)
    {
        if (uuidOrPrefix.Length == 0)
        {
            throw new PodLookupException("UUID cannot be empty");
        }

        var wanted = uuidOrPrefix.ToLowerInvariant();
        var matches = List(includeEmbryos: false).Where(u => u.Value.StartsWith(wanted, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            0 => throw new PodLookupException($"no matches found for \"{wanted}\""),
            1 => matches[0],
            _ => throw new PodLookupException($"ambiguous uuid, {matches.Count} matches"),
        };
    }

    /// <summary>Every pod's uuid, sorted; entries that are not uuid-named directories are skipped.</summary>
    public IReadOnlyList<PodUuid> List(bool includeEmbryos = true)
    {
        var uuids = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var podsDirectory in ExistingPodsDirectories())
        {
            foreach (var location in LookupOrder)
            {
                if (location == PodLocation.Embryo && !includeEmbryos)
                {
                    continue;
                }

                var directory = Path.Combine(podsDirectory, location.DirectoryName());
                if (!Directory.Exists(directory))
                {
                    continue;
                }

                StateDirectory.Check(directory);

                foreach (var entry in Directory.EnumerateDirectories(directory))
                {
                    if (PodUuid.TryParse(Path.GetFileName(entry), out var uuid) && uuid.Value == Path.GetFileName(entry))
                    {
                        uuids.Add(uuid.Value);
                    }
                }
            }
        }

        return uuids.Select(PodUuid.Parse).ToList();
    }

    /// <summary>Opens a pod wherever it lives and reads its state; null when it is gone.</summary>
    public Pod? Open(PodUuid uuid)
    {
        foreach (var podsDirectory in ExistingPodsDirectories())
        {
            if (Open(podsDirectory, uuid) is { } pod)
            {
                return pod;
            }
        }

        return null;
    }

    // In state order, the way pods move: a pod renamed between two lookups is found in the later one.
    private Pod? Open(string podsDirectory, PodUuid uuid)
    {
        foreach (var location in LookupOrder)
        {
            var path = PathOf(podsDirectory, location, uuid);
            SafeFileHandle handle;
            try
            {
                handle = Interop.Open(path, Interop.O_RDONLY | Interop.O_DIRECTORY | Interop.O_NOFOLLOW);
            }
            catch (SyscallException e) when (e.Errno is Errno.ENOENT or Errno.ENOTDIR or Errno.ELOOP)
            {
                continue;
            }

            var locked = false;
            if (location.IsLockProbed())
            {
                if (Interop.Flock(handle, exclusive: false, wait: false, path))
                {
                    Interop.Unlock(handle, path);
                }
                else
                {
                    locked = true;
                }
            }

            return new Pod(this, podsDirectory, uuid, location, handle, locked, createdByMe: false);
        }

        return null;
    }

    /// <summary>An embryo is locked from the moment after its directory exists; one this old and unlocked was abandoned.</summary>
    public static readonly TimeSpan EmbryoGracePeriod = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Deletes embryos whose creator died before moving them to prepare/ (killed between the two): no
    /// lookup shows them, so only gc can. Returns their uuids.
    /// </summary>
    public IReadOnlyList<PodUuid> CollectAbandonedEmbryos(DateTimeOffset now)
    {
        var collected = new List<PodUuid>();
        foreach (var podsDirectory in ExistingPodsDirectories())
        {
            var directory = Path.Combine(podsDirectory, PodLocation.Embryo.DirectoryName());
            if (!Directory.Exists(directory))
            {
                continue;
            }

            StateDirectory.Check(directory);
            foreach (var entry in Directory.EnumerateDirectories(directory))
            {
                if (!PodUuid.TryParse(Path.GetFileName(entry), out var uuid) || now - Directory.GetLastWriteTimeUtc(entry) < EmbryoGracePeriod)
                {
                    continue;
                }

                using var pod = Open(podsDirectory, uuid);
                if (pod is { Location: PodLocation.Embryo } && pod.TryLockExclusive())
                {
                    TryDeleteDirectory(pod.Path);
                    collected.Add(uuid);
                }
            }
        }

        return collected;
    }

    /// <summary>Resolves and opens; the pod may vanish in between, which reads as not found.</summary>
    public Pod Get(string uuidOrPrefix)
    {
        var uuid = Resolve(uuidOrPrefix);
        return Open(uuid) ?? throw new PodLookupException($"pod \"{uuid}\" was not present");
    }

    /// <summary>Opens every pod in uuid order; the caller disposes each.</summary>
    public IEnumerable<Pod> Walk(bool includeEmbryos = false)
    {
        foreach (var uuid in List(includeEmbryos))
        {
            var pod = Open(uuid);
            if (pod is not null)
            {
                yield return pod;
            }
        }
    }

    /// <summary>
    /// Creates the pods directory <see cref="Create"/> uses and its state directories 0750, or checks
    /// they are safe to trust (see <see cref="StateDirectory"/>).
    /// </summary>
    internal void EnsureDirectories()
    {
        StateDirectory.Ensure(DataDirectory, StateDirectory.Mode0755);
        if (Transient)
        {
            RuntimeDirectory.Ensure(DataDirectory);
        }

        StateDirectory.Ensure(PodsDirectory, StateDirectory.Mode0750);
        foreach (var location in LookupOrder)
        {
            StateDirectory.Ensure(Path.Combine(PodsDirectory, location.DirectoryName()), StateDirectory.Mode0750);
        }
    }

    /// <summary>
    /// The pods directories that stand, checked before anything read from them is trusted: the
    /// directories leading to each must be safe, and a runtime directory must be this state directory's.
    /// The one <see cref="Create"/> uses comes first: that is where a pod just made is looked up.
    /// </summary>
    private List<string> ExistingPodsDirectories()
    {
        StateDirectory.Check(DataDirectory);
        StateDirectory.Check(PersistentPodsDirectory);
        var directories = new List<string>(2);
        if (Directory.Exists(PersistentPodsDirectory))
        {
            directories.Add(PersistentPodsDirectory);
        }

        if (RuntimeDirectory.Existing(DataDirectory) is not null)
        {
            StateDirectory.Check(TransientPodsDirectory);
            if (Directory.Exists(TransientPodsDirectory))
            {
                directories.Insert(Transient ? 0 : directories.Count, TransientPodsDirectory);
            }
        }

        return directories;
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            TreeRemover.Remove(path);
        }
        catch (IOException)
        {
            // Best effort: an embryo left behind is invisible to lookups and harmless.
        }
    }
}
