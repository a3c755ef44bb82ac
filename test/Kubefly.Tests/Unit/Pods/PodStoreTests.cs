using Kubefly.Oci;
using Kubefly.Pods;
using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Unit.Pods;

/// <summary>The pod store on a real filesystem with real flocks (each test its own directory).</summary>
public sealed class PodStoreTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("kubefly-podstore-").FullName;
    private readonly PodStore store;

    public PodStoreTests() => store = new PodStore(dir);

    public void Dispose() => Kubefly.Linux.TreeRemover.Remove(dir);

    [Fact]
    public void A_new_pod_is_preparing_in_prepare_and_locked()
    {
        using var pod = store.Create();

        Assert.Equal(PodState.Preparing, pod.State);
        Assert.Equal(Path.Combine(dir, "pods", "prepare", pod.Uuid.Value), pod.Path);
        Assert.True(Directory.Exists(pod.Path));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(dir, "pods", "embryo")));
        using var seen = store.Open(pod.Uuid)!;
        Assert.Equal(PodState.Preparing, seen.State);
    }

    [Fact]
    public void A_prepare_abandoned_without_its_lock_is_an_aborted_prepare()
    {
        var uuid = CreateAndRelease(toRun: false);

        using var seen = store.Open(uuid)!;
        Assert.Equal(PodState.AbortedPrepare, seen.State);
    }

    [Fact]
    public void A_pod_in_run_is_running_while_its_lock_is_held_and_exited_after()
    {
        var pod = store.Create();
        pod.ToRun();
        Assert.Equal(Path.Combine(dir, "pods", "run", pod.Uuid.Value), pod.Path);
        using (var seen = store.Open(pod.Uuid)!)
        {
            Assert.Equal(PodState.Running, seen.State);
        }

        pod.Dispose();

        using var after = store.Open(pod.Uuid)!;
        Assert.Equal(PodState.Exited, after.State);
    }

    [Fact]
    public void The_lock_lives_in_whoever_holds_the_descriptor_even_another_process()
    {
        var pod = store.Create();
        pod.ToRun();
        var path = pod.Path;
        pod.Dispose();

        // A child takes the lock on the directory and keeps it across exec, as the app does.
        var holder = System.Diagnostics.Process.Start("/bin/bash", ["-c", $"exec 9<'{path}'; flock -x 9; echo locked > '{path}/ready'; exec sleep 600"])!;
        try
        {
            Kubefly.Tests.Infrastructure.Wait.Until(() => File.Exists(Path.Combine(path, "ready")) || holder.HasExited, TimeSpan.FromSeconds(30), "the lock holder to take the pod lock");

            using (var seen = store.Open(PodUuid.Parse(Path.GetFileName(path)))!)
            {
                Assert.Equal(PodState.Running, seen.State);
            }
        }
        finally
        {
            holder.Kill();
            holder.WaitForExit();
        }

        using var after = store.Open(PodUuid.Parse(Path.GetFileName(path)))!;
        Assert.Equal(PodState.Exited, after.State);
    }

    [Fact]
    public void A_failed_prepare_goes_to_garbage_unlocked()
    {
        using var pod = store.Create();
        pod.AbortPrepare();

        Assert.Equal(PodState.Garbage, pod.State);
        using var seen = store.Open(pod.Uuid)!;
        Assert.Equal(PodState.Garbage, seen.State);
        Assert.NotNull(seen.GarbageMarkedAt);
    }

    [Fact]
    public void An_exited_pod_moves_to_exited_garbage_and_is_deleted_under_its_lock()
    {
        var uuid = CreateAndRelease(toRun: true);
        using var pod = store.Open(uuid)!;

        pod.ToExitedGarbage();
        Assert.Equal(PodState.ExitedGarbage, pod.State);
        Assert.True(pod.TryLockExclusive());
        using (var seen = store.Open(uuid)!)
        {
            Assert.Equal(PodState.ExitedDeleting, seen.State);
            Assert.False(seen.TryLockExclusive());
        }

        pod.Delete();
        Assert.Null(store.Open(uuid));
    }

    [Fact]
    public void Only_the_right_states_move()
    {
        var uuid = CreateAndRelease(toRun: true);
        using var pod = store.Open(uuid)!;

        Assert.Throws<KubeflyException>(pod.ToGarbage);
        Assert.Throws<KubeflyException>(pod.Delete);
        Assert.Throws<InvalidOperationException>(pod.ToRun);
    }

    [Fact]
    [Trait("Requires", "root")]
    public void Delete_removes_overlay_leftovers_whiteouts_and_unreadable_dirs()
    {
        var uuid = CreateAndRelease(toRun: true);
        using var pod = store.Open(uuid)!;
        var upper = Path.Combine(pod.Path, PodPaths.UpperDirectory);
        ProgramRunner.Shell($"mkdir -p '{upper}/etc' '{pod.Path}/overlay/work/work' && mknod '{upper}/etc/gone' c 0 0 && touch '{upper}/etc/file' && chmod 000 '{pod.Path}/overlay/work/work' '{upper}/etc/file' && ln -s / '{upper}/escape'");
        pod.ToExitedGarbage();
        Assert.True(pod.TryLockExclusive());

        pod.Delete();

        Assert.False(Directory.Exists(pod.Path));
        Assert.True(Directory.Exists("/etc"));
    }

    [Fact]
    public void Delete_removes_an_upper_dir_deeper_than_any_path_with_names_that_are_not_utf8()
    {
        var uuid = CreateAndRelease(toRun: true);
        using var pod = store.Open(uuid)!;
        var upper = Path.Combine(pod.Path, PodPaths.UpperDirectory);
        Directory.CreateDirectory(upper);
        using (var bottom = Kubefly.Tests.Unit.Linux.TreeRemoverTests.MakeChain(upper, "a", 4096))
        {
            Assert.Equal(0, Kubefly.Linux.Interop.TryOpenatRaw(bottom, [(byte)'x', 0xff, 0], Kubefly.Linux.Interop.O_WRONLY | Kubefly.Linux.Interop.O_CREAT, out var file));
            file.Dispose();
        }

        pod.ToExitedGarbage();
        Assert.True(pod.TryLockExclusive());

        pod.Delete();

        Assert.False(Directory.Exists(pod.Path));
    }

    [Fact]
    [Trait("Requires", "root")]
    public void Delete_refuses_while_something_is_mounted_inside_the_pod()
    {
        var uuid = CreateAndRelease(toRun: true);
        using var pod = store.Open(uuid)!;
        var rootfs = Path.Combine(pod.Path, PodPaths.Rootfs);
        Directory.CreateDirectory(rootfs);
        ProgramRunner.Shell($"mount -t tmpfs kubefly-test '{rootfs}' && touch '{rootfs}/precious'");
        try
        {
            pod.ToExitedGarbage();
            Assert.True(pod.TryLockExclusive());
            var movedRootfs = Path.Combine(pod.Path, PodPaths.Rootfs);

            var error = Assert.Throws<KubeflyException>(pod.Delete);

            Assert.Contains($"{movedRootfs} is a mount point", error.Message, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(movedRootfs, "precious")));
        }
        finally
        {
            ProgramRunner.Shell($"umount '{Path.Combine(pod.Path, PodPaths.Rootfs)}'");
        }
    }

    [Fact]
    public void Uuids_resolve_by_unique_prefix()
    {
        var uuid = CreateAndRelease(toRun: true);

        Assert.Equal(uuid, store.Resolve(uuid.Value));
        Assert.Equal(uuid, store.Resolve(uuid.Short));
        Assert.Equal(uuid, store.Resolve(uuid.Value[..3].ToUpperInvariant()));
    }

    [Fact]
    public void Resolution_errors_are_rkt_s()
    {
        Assert.Equal("UUID cannot be empty", Assert.Throws<PodLookupException>(() => store.Resolve(string.Empty)).Message);
        Assert.Equal("no matches found for \"0f746094\"", Assert.Throws<PodLookupException>(() => store.Resolve("0f746094")).Message);

        var uuids = new HashSet<string>();
        while (uuids.Count < 2 || uuids.Select(u => u[0]).Distinct().Count() == uuids.Count)
        {
            uuids.Add(CreateAndRelease(toRun: true).Value);
        }

        var shared = uuids.GroupBy(u => u[0]).First(g => g.Count() > 1);
        Assert.Equal($"ambiguous uuid, {shared.Count()} matches", Assert.Throws<PodLookupException>(() => store.Resolve(shared.Key.ToString())).Message);
    }

    [Fact]
    public void Listing_skips_entries_that_are_not_pods()
    {
        var uuid = CreateAndRelease(toRun: true);
        Directory.CreateDirectory(Path.Combine(dir, "pods", "run", "not-a-uuid"));
        File.WriteAllText(Path.Combine(dir, "pods", "run", "6733c088-a507-4694-aabf-edbe4fc5266f"), "a file, not a pod");
        var linked = PodUuid.NewRandom();
        File.CreateSymbolicLink(Path.Combine(dir, "pods", "run", linked.Value), "/etc");

        Assert.Null(store.Open(linked));
        Assert.Equal([uuid], store.Walk().Select(p => p.Uuid));
    }

    private PodUuid CreateAndRelease(bool toRun)
    {
        using var pod = store.Create();
        if (toRun)
        {
            pod.ToRun();
        }

        return pod.Uuid;
    }
}
