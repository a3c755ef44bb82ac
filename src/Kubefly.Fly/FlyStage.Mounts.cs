using Kubefly.Linux;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Fly;

public static partial class FlyStage
{
    /// <summary>
    /// Phase 1: nothing mounted in the pod may propagate to the host. A failure stops the pod: going on
    /// would let the rootfs and every pod mount appear on the host.
    /// </summary>
    private static void ApplyPropagation(IReadOnlyList<PropagationChange> changes)
    {
        foreach (var change in changes)
        {
            Step("mount propagation", () => Interop.Mount(null, change.MountPoint, null, change.Flags));
        }
    }

    /// <summary>One detached clone per <see cref="PlannedMountKind.HostTree"/> mount, by index; null for the others.</summary>
    private static HostTreeClones CloneHostTrees(IReadOnlyList<PlannedMount> mounts)
    {
        var clones = new HostTreeClones(mounts.Count);
        try
        {
            for (var i = 0; i < mounts.Count; i++)
            {
                if (mounts[i].Kind == PlannedMountKind.HostTree)
                {
                    var mount = mounts[i];
                    clones[i] = Step($"{mount.Purpose}: clone of {mount.Source}", () => Interop.CloneMountTree(mount.Source, (mount.Flags & Interop.MS_REC) != 0));
                }
            }

            return clones;
        }
        catch
        {
            clones.Dispose();
            throw;
        }
    }

    private sealed class HostTreeClones(int count) : IDisposable
    {
        private readonly SafeFileHandle?[] handles = new SafeFileHandle?[count];

        public SafeFileHandle? this[int index]
        {
            get => handles[index];
            set => handles[index] = value;
        }

        public void Dispose()
        {
            foreach (var handle in handles)
            {
                handle?.Dispose();
            }
        }
    }

    /// <summary>
    /// The rootfs overlay. Relative lower dirs are resolved by the kernel against this thread's working
    /// directory (private since unshare), which is restored afterwards.
    /// </summary>
    private static void MountOverlay(OverlayMount overlay)
    {
        Step("overlay rootfs", () =>
        {
            if (overlay.WorkingDirectory is null)
            {
                Interop.Mount("overlay", overlay.Target, "overlay", 0, overlay.Data);
                return;
            }

            if (overlay.Links.Count > 0)
            {
                CreateLayerLinks(overlay.WorkingDirectory, overlay.Links);
            }

            using var previous = Interop.Open(".", Interop.O_PATH | Interop.O_DIRECTORY);
            Interop.Chdir(overlay.WorkingDirectory);
            try
            {
                Interop.Mount("overlay", overlay.Target, "overlay", 0, overlay.Data);
            }
            finally
            {
                Interop.Fchdir(previous, "previous working directory");
            }
        });
    }

    private static void CreateLayerLinks(string directory, IReadOnlyList<OverlayLink> links)
    {
        Directory.CreateDirectory(directory);
        foreach (var link in links)
        {
            var path = Path.Combine(directory, link.Name);
            File.Delete(path); // a link left by an earlier start of this pod; absent is fine
            File.CreateSymbolicLink(path, link.Target);
        }
    }

    /// <summary>One mount inside the rootfs, onto the descriptor of its in-root target.</summary>
    private static void ApplyMount(RootDirectory root, PlannedMount mount, SafeFileHandle? hostTree)
    {
        var context = $"fly: {mount.Purpose} (target {mount.Target} in {root.HostPath})";
        try
        {
            if (mount.Kind == PlannedMountKind.NewFileSystem)
            {
                using var directory = root.OpenOrCreate(mount.Target, directory: true);
                Interop.Mount(mount.Source, RootDirectory.ProcPath(directory), mount.FileSystemType, mount.Flags, mount.Data);
                return;
            }

            var source = Interop.Stat(mount.Source);
            using (var target = root.OpenOrCreate(mount.Target, source.IsDirectory))
            {
                var existing = Interop.Fstat(target, mount.Target);
                if (existing.IsDirectory != source.IsDirectory)
                {
                    throw new FlyException($"{context}: cannot bind a {Interop.DescribeFileType(source)} ({mount.Source}) onto a {Interop.DescribeFileType(existing)}");
                }

                // Mount onto the descriptor, not the path: a target swapped for a symlink after it was
                // resolved cannot redirect the bind.
                if (hostTree is not null)
                {
                    Interop.AttachMountTree(hostTree, target, mount.Target);
                }
                else
                {
                    Interop.Mount(mount.Source, RootDirectory.ProcPath(target), null, mount.Flags);
                }
            }

            using var mounted = root.Open(mount.Target, Interop.O_PATH);
            if (!Interop.SameFile(Interop.Fstat(mounted, mount.Target), source))
            {
                throw new FlyException($"{context}: after the bind the target does not show {mount.Source}");
            }

            if (mount.PropagationFlags != 0)
            {
                Interop.Mount(null, RootDirectory.ProcPath(mounted), null, mount.PropagationFlags);
            }

            if (mount.ReadOnly)
            {
                RemountReadOnly(mounted, mount.ReadOnlyRecursive);
            }
        }
        catch (SyscallException e)
        {
            throw new FlyException($"{context}: {e.Message}", e);
        }
        catch (FlyException e) when (!e.Message.StartsWith(context, StringComparison.Ordinal))
        {
            // In-root resolution failures name the path but not the volume.
            throw new FlyException($"{context}: {e.Message}", e);
        }
    }

    /// <summary>Read-only is per mount: the bind, and when recursive every submount the rbind brought along.</summary>
    private static void RemountReadOnly(SafeFileHandle mounted, bool recursive)
    {
        var mountPoint = Interop.Readlink(RootDirectory.ProcPath(mounted));
        var table = MountInfo.ReadCurrentThread();
        var top = table.LastOrDefault(e => e.MountPoint == mountPoint);
        Interop.Mount(null, RootDirectory.ProcPath(mounted), null, MountPlanner.ReadOnlyRemountFlags(top));
        if (!recursive)
        {
            return;
        }

        foreach (var submount in MountPlanner.Submounts(table, mountPoint))
        {
            Interop.Mount(null, submount.MountPoint, null, MountPlanner.ReadOnlyRemountFlags(submount));
        }
    }
}
