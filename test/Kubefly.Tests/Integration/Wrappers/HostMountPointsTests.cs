using System.Runtime.InteropServices;
using Kubefly.Fly;
using Kubefly.Linux;

namespace Kubefly.Tests.Integration.Wrappers;

/// <summary>
/// EnsureShared against the real kernel, on a thread with a mount namespace of its own (unshare acts
/// on the calling thread), whose mounts are made private first: nothing reaches the host, and every
/// mount disappears with the thread.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class HostMountPointsTests : IDisposable
{
    private const int CLONE_NEWNS = 0x00020000;

    private readonly string _directory = Directory.CreateTempSubdirectory("kubefly-shared-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int unshare(int flags);

    private static void InPrivateMountNamespace(Action action)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                if (unshare(CLONE_NEWNS) != 0)
                {
                    throw new SyscallException("unshare(CLONE_NEWNS)", Marshal.GetLastPInvokeError());
                }

                Interop.Mount(null, "/", null, Interop.MS_REC | Interop.MS_PRIVATE);
                action();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            throw new Xunit.Sdk.XunitException($"on the namespaced thread: {failure}");
        }
    }

    [Fact]
    public void A_plain_directory_is_bound_onto_itself_and_made_shared_once()
    {
        var kubelet = Path.Combine(_directory, "kubelet");
        Directory.CreateDirectory(kubelet);

        InPrivateMountNamespace(() =>
        {
            Assert.False(HostMountPoints.IsSharedMountPoint(kubelet));
            Assert.Equal(HostMountPoints.SharedSetup.BoundAndMadeShared, HostMountPoints.EnsureShared(kubelet));
            Assert.True(HostMountPoints.IsSharedMountPoint(kubelet));
            Assert.Equal(HostMountPoints.SharedSetup.AlreadyShared, HostMountPoints.EnsureShared(kubelet));
            Assert.Single(MountInfo.ReadCurrentThread(), entry => entry.MountPoint == kubelet);
        });

        // The main thread's namespace never saw any of it.
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), line => line.Contains(kubelet, StringComparison.Ordinal));
    }

    [Fact]
    public void A_private_mount_point_is_made_shared_without_another_bind()
    {
        var kubelet = Path.Combine(_directory, "kubelet");
        Directory.CreateDirectory(kubelet);

        InPrivateMountNamespace(() =>
        {
            Interop.Mount("tmpfs", kubelet, "tmpfs", 0, "size=1m");
            Assert.Equal(HostMountPoints.SharedSetup.MadeShared, HostMountPoints.EnsureShared(kubelet));
            var top = HostMountPoints.FindTopMount(MountInfo.ReadCurrentThread(), kubelet)!;
            Assert.Equal("tmpfs", top.FileSystemType);
            Assert.True(top.IsShared);
        });
    }

    [Fact]
    public void A_symlinked_path_is_resolved_to_the_mount_point_mountinfo_names()
    {
        var real = Path.Combine(_directory, "real-kubelet");
        var link = Path.Combine(_directory, "kubelet-link");
        Directory.CreateDirectory(real);
        File.CreateSymbolicLink(link, real);

        InPrivateMountNamespace(() =>
        {
            HostMountPoints.EnsureShared(link);
            Assert.True(HostMountPoints.IsSharedMountPoint(real));
            Assert.Equal(HostMountPoints.SharedSetup.AlreadyShared, HostMountPoints.EnsureShared(real));
        });
    }

    [Fact]
    public void A_missing_directory_is_an_error_naming_it()
    {
        var missing = Path.Combine(_directory, "absent");

        var error = Assert.Throws<DirectoryNotFoundException>(() => HostMountPoints.EnsureShared(missing));
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }
}
