using Kubefly.Images.Store;
using Kubefly.Linux;
using Kubefly.Oci;

namespace Kubefly.Pods;

/// <summary>
/// rm, stop and gc over the store, with rkt's messages: results on <c>output</c>, problems on
/// <c>errors</c> prefixed by the command name (rkt's "rm: pod ... is currently running"). Each returns
/// the command's exit code.
/// </summary>
public sealed class PodOperations(PodStore store, TextWriter output, TextWriter errors, string command)
{
    private ImageStore? images;

    /// <summary>File times come from the kernel's coarse clock, up to a tick (4 ms at HZ=250) behind the fine one.</summary>
    private static readonly TimeSpan FileTimeGranularity = TimeSpan.FromMilliseconds(10);

    private const int SignalTerminate = 15;
    private const int SignalKill = 9;

    /// <summary>rm: removes exited, garbage and never-run pods; a running one is refused.</summary>
    public int Remove(IEnumerable<string> uuids, bool failed = false)
    {
        foreach (var text in uuids)
        {
            if (Lookup(text) is not { } pod)
            {
                failed = true;
                continue;
            }

            using (pod)
            {
                if (RemovePod(pod))
                {
                    output.WriteLine($"\"{pod.Uuid}\"");
                }
                else
                {
                    failed = true;
                }
            }
        }

        if (failed)
        {
            Error("failed to remove one or more pods");
            return 254;
        }

        return 0;
    }

    /// <summary>The pod a UUID or prefix names, or null after rkt's "cannot get pod" message.</summary>
    private Pod? Lookup(string uuidOrPrefix)
    {
        try
        {
            return store.Get(uuidOrPrefix);
        }
        catch (PodLookupException e)
        {
            Error($"cannot get pod: {e.Message}");
            return null;
        }
    }

    /// <summary>stop: SIGTERM (SIGKILL with force) to every process in the pod, whatever its session or group.</summary>
    public int Stop(IEnumerable<string> uuids, bool force, int exitCodeSoFar = 0)
    {
        var failures = 0;
        foreach (var text in uuids)
        {
            if (Lookup(text) is not { } pod)
            {
                failures++;
                continue;
            }

            using (pod)
            {
                if (pod.State.IsAfterRun())
                {
                    output.WriteLine($"pod \"{pod.Uuid}\" is already stopped");
                    continue;
                }

                if (pod.State != PodState.Running)
                {
                    Error($"pod \"{pod.Uuid}\" is not running");
                    failures++;
                    continue;
                }

                if (Signal(pod, force ? SignalKill : SignalTerminate) is { } problem)
                {
                    Error($"error stopping \"{pod.Uuid}\": {problem}");
                    failures++;
                }
                else
                {
                    output.WriteLine($"\"{pod.Uuid}\"");
                }
            }
        }

        if (failures > 0)
        {
            Error($"failed to stop {failures} pod(s)");
            return 254;
        }

        return exitCodeSoFar;
    }

    /// <summary>
    /// gc: exited pods and failed prepares go to garbage; unless markOnly, expired prepared pods follow,
    /// exited garbage older than the grace period is deleted, and so is all never-run garbage. An exited
    /// pod whose --uuid-file-save file is gone or names another pod (the file lived in /run and the
    /// machine rebooted) can no longer be removed by its unit, so it is deleted without the grace period.
    /// </summary>
    public int Collect(TimeSpan gracePeriod, TimeSpan expirePrepared, bool markOnly, DateTimeOffset now)
    {
        // Garbage is aged against the time of that check, as rkt did (time.Since): a pod marked earlier in
        // this same run is older than a zero grace period. The clock behind file times is coarser than
        // the one behind `now`, so comparing with the run's start time left it for the next gc.
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        foreach (var pod in store.Walk())
        {
            using (pod)
            {
                switch (pod.State)
                {
                    case PodState.Exited:
                        errors.WriteLine($"Moving pod \"{pod.Uuid}\" to garbage");
                        Try(pod, pod.ToExitedGarbage);
                        break;
                    case PodState.AbortedPrepare:
                        Error($"moving failed prepare \"{pod.Uuid}\" to garbage");
                        Try(pod, pod.ToGarbage);
                        break;
                }
            }
        }

        if (markOnly)
        {
            return 0;
        }

        foreach (var pod in store.Walk())
        {
            using (pod)
            {
                switch (pod.State)
                {
                    case PodState.Prepared when (pod.CreatedAt ?? now) + expirePrepared < now:
                        Error($"moving expired prepared pod \"{pod.Uuid}\" to garbage");
                        Try(pod, pod.ToGarbage);
                        break;
                }
            }
        }

        foreach (var pod in store.Walk())
        {
            using (pod)
            {
                switch (pod.State)
                {
                    case PodState.ExitedGarbage:
                        var orphaned = IsOrphaned(pod);
                        var current = now + elapsed.Elapsed + FileTimeGranularity;
                        if (orphaned || (pod.GarbageMarkedAt ?? now) + gracePeriod < current)
                        {
                            if (orphaned)
                            {
                                Error($"pod \"{pod.Uuid}\": its uuid file {pod.Record!.UuidFile} no longer names it; collecting it without the grace period");
                            }

                            CollectGarbage(pod);
                        }
                        else
                        {
                            Error($"pod \"{pod.Uuid}\" not removed: still within grace period ({GoDuration.Format(gracePeriod)})");
                        }

                        break;
                    case PodState.Garbage:
                        CollectGarbage(pod);
                        break;
                }
            }
        }

        foreach (var embryo in store.CollectAbandonedEmbryos(now))
        {
            output.WriteLine($"Garbage collecting abandoned embryo \"{embryo}\"");
        }

        Try(Images.PruneStalePins, "unable to remove stale image pins", "remove", "pins");
        return 0;
    }

    /// <summary>The uuid recorded by --uuid-file-save no longer leads to this pod.</summary>
    public static bool IsOrphaned(Pod pod)
    {
        if (pod.Record?.UuidFile is not { } file)
        {
            return false;
        }

        try
        {
            return ReadUuidFile(file) != pod.Uuid.Value;
        }
        catch (IOException e) when (e.InnerException is null or FileNotFoundException or DirectoryNotFoundException)
        {
            // Gone, or it holds something that is no pod's uuid (a directory, junk, a huge file).
            return true;
        }
        catch (IOException)
        {
            // Unreadable for another reason (permissions, I/O): keep the pod, its unit may still need it.
            return false;
        }
    }

    /// <summary>A uuid file holds 36 characters and maybe a newline; anything past this is not one.</summary>
    public const int UuidFileLimit = 256;

    /// <summary>
    /// Reads a --uuid-file: the uuid with surrounding whitespace trimmed. At most <see cref="UuidFileLimit"/>
    /// bytes are read, and the content is never echoed raw: the file may be huge or hold escape sequences.
    /// </summary>
    /// <exception cref="IOException">The file cannot be read or holds no uuid; the message names it.</exception>
    public static string ReadUuidFile(string path)
    {
        if (Directory.Exists(path))
        {
            throw new IOException($"open {path}: is a directory");
        }

        var buffer = new byte[UuidFileLimit + 1];
        int length;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            length = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException(IoErrors.Describe(e, "open", path), e);
        }

        if (length > UuidFileLimit)
        {
            throw new IOException($"{path}: more than {UuidFileLimit} bytes: not a pod UUID file");
        }

        var text = System.Text.Encoding.UTF8.GetString(buffer, 0, length).Trim();
        if (text.Any(c => !char.IsAsciiLetterOrDigit(c) && c != '-'))
        {
            throw new IOException($"{path}: not a pod UUID (it holds \"{UntrustedText.Printable(text)}\")");
        }

        return text;
    }

    /// <summary>
    /// Signals every process in the pod's mount namespace, and nothing else (see <see cref="PodProcesses"/>):
    /// not the caller's process group, not a process that reused a recorded pid. Null on success.
    /// </summary>
    private string? Signal(Pod pod, int signal)
    {
        if (pod.MountNamespace is not { } mountNamespace)
        {
            return pod.Pid is null ? "the app has not started yet (no pid file)" : $"the pod has no {PodPaths.MountNamespace} file: it was started by an older kubefly or its directory was tampered with";
        }

        store.ForgetProcesses();
        var members = store.Processes.Of(pod.Uuid, mountNamespace);
        var signalled = PodProcesses.Signal(members, pod.Uuid, mountNamespace, signal);
        if (signalled.Count > 0)
        {
            return null;
        }

        // Nothing left in the namespace, yet the lock was held: a process that left the pod by setns or
        // unshare keeps it. It is outside the pod, so it is named, never signalled.
        var holders = PodProcesses.HoldersOf(pod.Path);
        if (holders.Count > 0)
        {
            return $"no process is left in the pod's mount namespace; process(es) {string.Join(", ", holders)} hold its lock from outside it and were not signalled (stop them yourself if they are the pod's)";
        }

        // Everything exited between the state check and now.
        return null;
    }

    private bool RemovePod(Pod pod)
    {
        switch (pod.State)
        {
            case PodState.Running:
                Error($"pod \"{pod.Uuid}\" is currently running");
                return false;
            case PodState.Embryo or PodState.Preparing:
                Error($"pod \"{pod.Uuid}\" is currently being prepared");
                return false;
            case PodState.Deleting or PodState.ExitedDeleting:
                Error($"pod \"{pod.Uuid}\" is currently being deleted");
                return false;
            case PodState.AbortedPrepare:
                Error($"moving failed prepare \"{pod.Uuid}\" to garbage");
                if (!Try(pod, pod.ToGarbage))
                {
                    return false;
                }

                break;
            case PodState.Prepared:
                Error($"moving expired prepared pod \"{pod.Uuid}\" to garbage");
                if (!Try(pod, pod.ToGarbage))
                {
                    return false;
                }

                break;
            case PodState.Exited:
                if (!Try(pod, pod.ToExitedGarbage))
                {
                    return false;
                }

                break;
        }

        if (!pod.TryLockExclusive())
        {
            Error($"pod \"{pod.Uuid}\" is currently being deleted");
            return false;
        }

        return Delete(pod);
    }

    /// <summary>Deletes a locked garbage pod, then its image pin (so pins never outlive their pods).</summary>
    private bool Delete(Pod pod)
    {
        var image = pod.Record is { } record && Digest.TryParse(record.ManifestDigest, out var digest) ? digest : (Digest?)null;
        if (!Try(pod.Delete, $"unable to remove pod \"{pod.Uuid}\"", "remove", pod.Path))
        {
            return false;
        }

        if (image is { } manifest)
        {
            Try(() => Images.Unpin(manifest, pod.Uuid.Value), $"unable to remove the image pin of pod \"{pod.Uuid}\"", "remove", "pin");
        }

        return true;
    }

    private ImageStore Images => images ??= new ImageStore(store.DataDirectory);

    private void CollectGarbage(Pod pod)
    {
        if (!pod.TryLockExclusive())
        {
            return;
        }

        output.WriteLine($"Garbage collecting pod \"{pod.Uuid}\"");
        Delete(pod);
    }

    private bool Try(Pod pod, Action action) => Try(action, "rename error", "rename", pod.Path);

    private bool Try(Action action, string context, string operation, string path)
    {
        try
        {
            action();
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or KubeflyException)
        {
            Error($"{context}: {(e is KubeflyException ? e.Message : IoErrors.Describe(e, operation, path))}");
            return false;
        }
    }

    private void Error(string message) => errors.WriteLine($"{command}: {message}");
}
