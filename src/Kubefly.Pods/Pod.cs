using System.Globalization;
using System.Text.Json;
using Kubefly.Linux;
using Kubefly.Oci;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Pods;

/// <summary>
/// One pod, opened: its directory handle (which carries the pod lock), where it lives and the state
/// that implies. Files are read through the handle (/proc/self/fd/N/...), so a concurrent move between
/// state directories cannot make a read miss.
/// </summary>
public sealed class Pod : IDisposable
{
    private readonly PodStore store;
    private readonly string podsDirectory;
    private readonly SafeFileHandle handle;
    private readonly bool createdByMe;
    private bool lockedByOther;
    private bool lockedByMe;
    private PodRecord? record;
    private IReadOnlyList<int>? processes;

    internal Pod(PodStore store, string podsDirectory, PodUuid uuid, PodLocation location, SafeFileHandle handle, bool locked, bool createdByMe)
    {
        this.store = store;
        this.podsDirectory = podsDirectory;
        this.handle = handle;
        this.createdByMe = createdByMe;
        Uuid = uuid;
        Location = location;
        lockedByMe = createdByMe && locked;
        lockedByOther = !createdByMe && locked;
    }

    public PodUuid Uuid { get; }

    public PodLocation Location { get; private set; }

    /// <summary>
    /// rkt's state, with one addition: a pod in run/ whose lock is free still runs while any process is
    /// left in its mount namespace (a daemon that closed its descriptors, say).
    /// </summary>
    public PodState State => PodStates.From(Location, lockedByOther || lockedByMe || (Location == PodLocation.Run && Processes.Count > 0));

    /// <summary>
    /// The processes still in the pod (its mount namespace), as of the store's process snapshot; none
    /// before the app started. See <see cref="PodProcesses"/>.
    /// </summary>
    public IReadOnlyList<int> Processes => processes ??= MountNamespace is { } ns && Location == PodLocation.Run ? store.Processes.Of(Uuid, ns) : [];

    /// <summary>The pod's mount namespace ("mnt:[INODE]"), written by the fly stage just before exec.</summary>
    public string? MountNamespace => ReadText(PodPaths.MountNamespace);

    public string Path => PodStore.PathOf(podsDirectory, Location, Uuid);

    /// <summary>Whether the pod lives in /run (see <see cref="PodStore"/>) and ends with the boot.</summary>
    public bool IsTransient => podsDirectory == store.TransientPodsDirectory;

    /// <summary>The descriptor holding the pod lock; the app inherits it across exec to say "running".</summary>
    public int LockDescriptor => (int)handle.DangerousGetHandle();

    /// <summary>The pod's record; null while it is being prepared or if preparing never wrote one.</summary>
    public PodRecord? Record => record ??= ReadRecord();

    public DateTimeOffset? CreatedAt => Record?.CreatedAt;

    /// <summary>When the app started: the fly stage writes the pid file just before it execs.</summary>
    public DateTimeOffset? StartedAt => State == PodState.Running || State.IsAfterRun() ? ModificationTime(PodPaths.Pid) : null;

    /// <summary>When gc (or rm, or a failed run) moved the pod to a garbage directory.</summary>
    public DateTimeOffset? GarbageMarkedAt => Location is PodLocation.Garbage or PodLocation.ExitedGarbage
        ? ModificationTime(PodPaths.GarbageMarked) ?? ModificationTime(".")
        : null;

    public int? Pid => ReadInt(PodPaths.Pid);


    /// <summary>A path inside the pod directory that stays valid while the handle is open, even across a move.</summary>
    public string Inside(string name) => $"/proc/self/fd/{LockDescriptor}/{name}";

    /// <summary>
    /// Writes the record once, while preparing (temp file, then rename, so a reader never sees half).
    /// Not fsynced, as rkt did not: the record matters while the pod lives, and a crash ends the pod. A
    /// record lost to a crash reads as none (empty after ext4's delayed allocation, zero-filled after
    /// xfs), and gc removes such a pod like any other. The fsync cost ~5% of a pod start.
    /// </summary>
    public void WriteRecord(PodRecord value)
    {
        RequireMine(PodState.Preparing, "write its record");
        var temporary = System.IO.Path.Combine(Path, PodPaths.Record + ".tmp");
        using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
        {
            PodRecordJson.Write(stream, value);
        }

        File.Move(temporary, System.IO.Path.Combine(Path, PodPaths.Record));
        record = value;
    }

    /// <summary>preparing -> run, keeping the lock: from here the pod is running while the lock is held.</summary>
    public void ToRun()
    {
        RequireMine(PodState.Preparing, "start running");
        MoveTo(PodLocation.Run);
    }

    /// <summary>A prepare that failed: straight to garbage, lock released, so gc (or rm) removes it.</summary>
    public void AbortPrepare()
    {
        RequireMine(PodState.Preparing, "abort its prepare");
        MoveTo(PodLocation.Garbage);
        Interop.Unlock(handle, Path);
        lockedByMe = false;
    }

    /// <summary>aborted prepare or prepared -> garbage (never ran).</summary>
    public void ToGarbage()
    {
        if (State is not (PodState.AbortedPrepare or PodState.Prepared))
        {
            throw new KubeflyException($"pod \"{Uuid}\" is {State.Describe()}: only failed prepares and prepared pods move to garbage");
        }

        MoveTo(PodLocation.Garbage);
    }

    /// <summary>exited -> exited garbage.</summary>
    public void ToExitedGarbage()
    {
        if (State != PodState.Exited)
        {
            throw new KubeflyException($"pod \"{Uuid}\" is {State.Describe()}: only exited pods move to exited garbage");
        }

        MoveTo(PodLocation.ExitedGarbage);
    }

    /// <summary>Takes the pod lock exclusively without waiting; false when someone else holds it.</summary>
    public bool TryLockExclusive()
    {
        if (lockedByMe)
        {
            return true;
        }

        if (!Interop.Flock(handle, exclusive: true, wait: false, Path))
        {
            lockedByOther = true;
            return false;
        }

        lockedByMe = true;
        return true;
    }

    /// <summary>
    /// Removes the pod's directory and everything in it (the overlay upper and work dirs hold root-owned
    /// files and whiteouts). Only for garbage the caller has locked. Refuses while anything is mounted
    /// at or under the pod directory: deleting through a mount would delete someone else's files.
    /// </summary>
    public void Delete()
    {
        if (!lockedByMe || Location is not (PodLocation.Garbage or PodLocation.ExitedGarbage))
        {
            throw new KubeflyException($"pod \"{Uuid}\" is {State.Describe()}: only locked garbage can be deleted");
        }

        var realPath = new FileInfo($"/proc/self/fd/{LockDescriptor}").LinkTarget ?? Path;
        var mounted = MountTable.MountPointsUnder(realPath);
        if (mounted.Count > 0)
        {
            throw new KubeflyException($"pod \"{Uuid}\": refusing to delete {realPath}: {mounted[0]} is a mount point ({mounted.Count} mount(s) under the pod)");
        }

        // By descriptor: an app may leave trees deeper than any path string, and symlinks or mounts in
        // the upper dir must never lead the removal out of the pod.
        TreeRemover.Remove(Path);
    }

    public void Dispose() => handle.Dispose();

    internal void MoveTo(PodLocation destination)
    {
        var from = Path;
        var to = PodStore.PathOf(podsDirectory, destination, Uuid);
        Directory.Move(from, to);
        Location = destination;
        if (destination is PodLocation.Garbage or PodLocation.ExitedGarbage)
        {
            File.WriteAllBytes(Inside(PodPaths.GarbageMarked), []);
        }
    }

    private void RequireMine(PodState state, string action)
    {
        if (!createdByMe || !lockedByMe || State != state)
        {
            throw new InvalidOperationException($"bug: pod {Uuid} is {State.Describe()} (created here: {createdByMe}); cannot {action}");
        }
    }

    private PodRecord? ReadRecord()
    {
        try
        {
            // What a crash leaves of a record that was never fsynced: nothing (ext4's delayed allocation)
            // or zeros (xfs). Either reads as no record, so list still shows the pod and gc collects it.
            var bytes = File.ReadAllBytes(Inside(PodPaths.Record));
            return bytes.AsSpan().IndexOfAnyExcept((byte)0) < 0 ? null : PodRecordJson.Parse(bytes);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (JsonException e)
        {
            throw new KubeflyException($"pod \"{Uuid}\": unreadable {PodPaths.Record}: {e.Message}", e);
        }
    }

    private int? ReadInt(string name) =>
        int.TryParse(ReadText(name), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>A small file of the pod (pid, mntns), trimmed; null when absent. At most 64 bytes are read: the state dir is not trusted.</summary>
    private string? ReadText(string name)
    {
        try
        {
            using var stream = new FileStream(Inside(name), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            Span<byte> buffer = stackalloc byte[64];
            var length = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            return System.Text.Encoding.UTF8.GetString(buffer[..length]).Trim();
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    private DateTimeOffset? ModificationTime(string name)
    {
        var info = new FileInfo(Inside(name));
        return name == "." || info.Exists ? new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero) : null;
    }
}
