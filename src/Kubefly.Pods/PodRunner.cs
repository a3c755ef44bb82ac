using System.Globalization;
using Kubefly.Fly;
using Kubefly.Images;
using Kubefly.Images.Store;
using Kubefly.Linux;
using Kubefly.Oci;

namespace Kubefly.Pods;

/// <summary>A pod in run/ with its lock held by this process, and the plan the fly stage will exec.</summary>
public sealed record PodLaunch(Pod Pod, FlyPlan Plan);

/// <summary>
/// `run` up to the exec: fetch the image, create the pod (embryo -> prepare), save its uuid, write
/// its files, move it to run/ still locked, and decide the <see cref="FlyPlan"/>. A failure while
/// preparing moves the pod to garbage and rethrows.
/// </summary>
public sealed class PodRunner(PodStore store, IPodImageProvider images)
{
    /// <summary>The fetch-to-exec path of `rkt run`: only returns (by exception) when the exec did not happen.</summary>
    public void RunAndExec(RunArguments run, InsecureOptions insecure)
    {
        var launch = Prepare(run, insecure, ProcessEnvironment.Snapshot());
        FlyStage.Exec(launch.Plan);

        // The lock must stay open up to the exec; past a failed exec it goes with the process.
        GC.KeepAlive(launch.Pod);
    }

    public PodLaunch Prepare(RunArguments run, InsecureOptions insecure, IReadOnlyDictionary<string, string> parentEnvironment)
    {
        var app = run.App;
        var uuid = PodUuid.NewRandom();
        var image = images.AcquireAndPin(app.Image, run.PullPolicy, insecure, uuid, store.PodsDirectory, store.Transient);
        var pod = store.Create(uuid);
        try
        {
            if (run.UuidFileSave is { } uuidFile)
            {
                WriteUuidFile(uuidFile, pod.Uuid);
            }

            var record = Record(run, image, pod.Uuid, parentEnvironment);
            MakePodDirectories(pod, run);
            pod.WriteRecord(record);
            pod.ToRun();
            return new PodLaunch(pod, Plan(pod, record, parentEnvironment));
        }
        catch
        {
            if (pod.State == PodState.Preparing)
            {
                pod.AbortPrepare();
            }

            pod.Dispose();
            throw;
        }
    }

    /// <summary>rkt's --uuid-file-save: the uuid, no newline, mode 0644, replaced atomically.</summary>
    public static void WriteUuidFile(string path, PodUuid uuid)
    {
        var full = Path.GetFullPath(path);
        var temporary = full + ".tmp-" + uuid.Short;
        try
        {
            File.WriteAllText(temporary, uuid.Value);
            UnixFiles.SetMode(temporary, UnixFiles.Mode0644);
            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temporary);
            throw new KubeflyException($"error saving pod UUID to file: {IoErrors.Describe(e, "write", full)}", e);
        }
    }

    /// <summary>
    /// The file descriptors systemd passed (LISTEN_FDS starting at 3) when LISTEN_PID names this
    /// process, which the app will be after exec; none otherwise.
    /// </summary>
    public static IReadOnlyList<int> ListenDescriptors(IReadOnlyDictionary<string, string> environment, int processId)
    {
        if (!environment.TryGetValue("LISTEN_PID", out var pid) || pid != processId.ToString(CultureInfo.InvariantCulture) ||
            !environment.TryGetValue("LISTEN_FDS", out var count) || !int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            return [];
        }

        return Enumerable.Range(3, n).ToList();
    }

    private static PodRecord Record(RunArguments run, StoredImage image, PodUuid uuid, IReadOnlyDictionary<string, string> parentEnvironment)
    {
        var app = run.App;
        var config = image.Config.Config;
        // One stored image can go by several names (two tags of one digest): the pod goes by the one it was asked for.
        var imageName = ImageStore.CanonicalName(app.Image) is { } asked && image.Names.Contains(asked) ? asked
            : image.Names.Count > 0 ? image.Names[0] : app.Image;
        var environment = AppSetup.Environment(run, config?.Env, parentEnvironment);
        return new PodRecord
        {
            Uuid = uuid.Value,
            AppName = AppSetup.AppName(app, imageName),
            Image = app.Image,
            ImageName = imageName,
            ManifestDigest = image.ManifestDigest.ToString(),
            CreatedAt = DateTimeOffset.UtcNow,
            UuidFile = run.UuidFileSave is { } file ? Path.GetFullPath(file) : null,
            LowerDirectories = image.LayerDirectories,
            Arguments = AppSetup.Arguments(app, config, imageName),
            Environment = environment,
            WorkingDirectory = AppSetup.WorkingDirectory(app, config),
            User = AppSetup.User(app, config),
            Group = app.Group is { Length: > 0 } group ? group : null,
            Mounts = Mounts(run),
            Dns = run.Dns,
            HostsEntries = run.HostsEntries,
            AutoUpdate = AutoUpdatePolicy(parentEnvironment),
            Unit = SystemdUnit.OfThisProcess(),
            HealthUrl = parentEnvironment.GetValueOrDefault(HealthUrlVariable),
            HealthTimeout = parentEnvironment.GetValueOrDefault(HealthTimeoutVariable),
        };
    }

    /// <summary>The variable a unit opts in to `kubefly auto-update` with, as podman's label does.</summary>
    public const string AutoUpdateVariable = "KUBEFLY_AUTO_UPDATE";

    /// <summary>The URL auto-update's health gate asks for 200 after a restart (the kubelet's http://127.0.0.1:10248/healthz).</summary>
    public const string HealthUrlVariable = "KUBEFLY_HEALTH_URL";

    /// <summary>How long the health gate waits for that 200 (a duration; 2m when unset).</summary>
    public const string HealthTimeoutVariable = "KUBEFLY_HEALTH_TIMEOUT";

    /// <summary>
    /// "registry" (update from the image's registry) or null. Any other value leaves updates off rather
    /// than failing the start: a typo in a unit must never keep its agent from running.
    /// </summary>
    public static string? AutoUpdatePolicy(IReadOnlyDictionary<string, string> environment) =>
        environment.TryGetValue(AutoUpdateVariable, out var value) && value == "registry" ? value : null;

    /// <summary>
    /// "host" binds the host's /etc/hosts; a host without one (a minimal container) gets the default
    /// localhost entry instead of a failed start, since every wrapper passes --hosts-entry host.
    /// </summary>
    public static IReadOnlyList<string> HostsEntriesForThisHost(IReadOnlyList<string> requested, out string? notice)
    {
        notice = null;
        if (requested is ["host"] && !File.Exists("/etc/hosts"))
        {
            notice = "--hosts-entry=host: this host has no /etc/hosts; the pod gets 127.0.0.1 localhost";
            return [];
        }

        return requested;
    }

    /// <summary>Pod-wide mounts, then the app's; an app mount replaces a pod-wide one at the same target.</summary>
    private static List<PodMountRecord> Mounts(RunArguments run)
    {
        var byTarget = new List<MountSpec>();
        foreach (var mount in run.PodMounts.Concat(run.App.Mounts))
        {
            byTarget.RemoveAll(m => m.Target == mount.Target);
            byTarget.Add(mount);
        }

        return byTarget.ConvertAll(mount =>
        {
            var volume = run.Volumes.First(v => v.Name == mount.Volume);
            return new PodMountRecord
            {
                Volume = volume.Name,
                Source = volume.Kind == VolumeKind.Host ? volume.Source! : Path.Combine(PodPaths.Volumes, volume.Name),
                SourceInPod = volume.Kind == VolumeKind.Empty,
                Target = mount.Target,
                ReadOnly = volume.ReadOnly,
                Recursive = volume.Recursive,
                Propagation = volume.Propagation,
            };
        });
    }

    private static void MakePodDirectories(Pod pod, RunArguments run)
    {
        foreach (var name in new[] { PodPaths.Rootfs, PodPaths.Overlay, PodPaths.UpperDirectory, PodPaths.WorkDirectory })
        {
            UnixFiles.CreateDirectory(Path.Combine(pod.Path, name), UnixFiles.Mode0755);
        }

        foreach (var volume in run.Volumes.Where(v => v.Kind == VolumeKind.Empty))
        {
            var path = Path.Combine(pod.Path, PodPaths.Volumes, volume.Name);
            Directory.CreateDirectory(path);
            UnixFiles.SetMode(path, (UnixFileMode)Convert.ToInt32(volume.Mode, 8));
            Interop.Lchown(path, volume.Uid, volume.Gid);
        }
    }

    private static FlyPlan Plan(Pod pod, PodRecord record, IReadOnlyDictionary<string, string> parentEnvironment)
    {
        var listen = ListenDescriptors(parentEnvironment, Environment.ProcessId);
        var environment = record.Environment.ToList();
        if (listen.Count > 0)
        {
            // The app keeps this process's pid across exec, so systemd's socket hand-over stays addressed to it.
            foreach (var key in new[] { "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES" })
            {
                environment.RemoveAll(e => e.StartsWith(key + "=", StringComparison.Ordinal));
                if (parentEnvironment.TryGetValue(key, out var value))
                {
                    environment.Add($"{key}={value}");
                }
            }
        }

        return new FlyPlan
        {
            PodDirectory = pod.Path,
            LowerDirectories = record.LowerDirectories,
            UpperDirectory = Path.Combine(pod.Path, PodPaths.UpperDirectory),
            WorkDirectory = Path.Combine(pod.Path, PodPaths.WorkDirectory),
            RootfsDirectory = Path.Combine(pod.Path, PodPaths.Rootfs),
            Mounts = record.Mounts.Select(m => new FlyMount
            {
                Source = m.SourceInPod ? Path.Combine(pod.Path, m.Source) : m.Source,
                Target = m.Target,
                ReadOnly = m.ReadOnly,
                Recursive = m.Recursive,
                Propagation = m.Propagation,
                VolumeName = m.Volume,
            }).ToList(),
            Arguments = record.Arguments,
            Environment = environment,
            WorkingDirectory = record.WorkingDirectory,
            User = record.User,
            Group = record.Group,
            Dns = record.Dns,
            HostsEntries = record.HostsEntries,
            KeepDescriptors = [pod.LockDescriptor, .. listen],
        };
    }
}
