using Kubefly.Linux;

namespace Kubefly.Tests.Infrastructure.Systemd;

/// <summary>
/// A Debian bookworm rootfs with systemd, built once per machine and shared by every test (each boot
/// uses --volatile=overlay, so the cached tree is never written to).
/// </summary>
public static class SystemdRootfs
{
    public const string DefaultCacheDirectory = "/var/cache/kubefly-tests";

    private const string Mirror = "http://deb.debian.org/debian";

    /// <summary>$KUBEFLY_TEST_CACHE, else /var/cache/kubefly-tests.</summary>
    public static string CacheDirectory =>
        Environment.GetEnvironmentVariable("KUBEFLY_TEST_CACHE") is { Length: > 0 } dir ? dir : DefaultCacheDirectory;

    /// <summary>Returns the rootfs path, building it first if no complete one exists (about 30-50 s, network).</summary>
    public static string Ensure()
    {
        var final = Path.Combine(CacheDirectory, "systemd-rootfs");
        if (IsComplete(final))
        {
            return final;
        }

        Directory.CreateDirectory(CacheDirectory);

        // Parallel test classes wait here; the first one builds, the others find it complete.
        using var buildLock = FileLock.Acquire(Path.Combine(CacheDirectory, "systemd-rootfs.lock"));
        if (IsComplete(final))
        {
            return final;
        }

        foreach (var stale in Directory.GetDirectories(CacheDirectory, "systemd-rootfs.partial-*"))
        {
            Directory.Delete(stale, recursive: true);
        }

        if (Directory.Exists(final))
        {
            // An incomplete tree left by someone else's interrupted build without our marker.
            Directory.Delete(final, recursive: true);
        }

        // Build beside the final path and rename when complete: a half-built tree never has the final name.
        var partial = Path.Combine(CacheDirectory, $"systemd-rootfs.partial-{Environment.ProcessId}");
        var result = ProgramRunner.Run(
            "debootstrap",
            ["--variant=minbase", "--include=systemd,systemd-sysv,dbus,procps", "bookworm", partial, Mirror],
            timeout: TimeSpan.FromMinutes(10));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"debootstrap of the systemd test rootfs failed\n{result}");
        }

        File.WriteAllText(Path.Combine(partial, MarkerName), "debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,procps bookworm\n");
        Directory.Move(partial, final);
        return final;
    }

    private const string MarkerName = ".kubefly-test-rootfs-complete";

    private static bool IsComplete(string path) => File.Exists(Path.Combine(path, MarkerName));
}
