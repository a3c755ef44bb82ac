using System.Globalization;
using System.Text;
using Kubefly.Linux;
using Kubefly.Oci;

namespace Kubefly.Images.Store;

/// <summary>
/// The state directory's part under /run/kubefly: transient pods and their image pins
/// (docs/adr/0015-transient-pods.md). /run is a tmpfs that the reboot empties, so what lives here costs
/// no inode on the state disk and needs no cleanup after a crash of the node.
/// <code>
/// /run/kubefly/KEY/state-directory   the state directory this belongs to (KEY is a hash of its path)
/// /run/kubefly/KEY/pods/STATE/UUID   transient pods, laid out as DIR/pods is
/// /run/kubefly/KEY/pins/HEX/POD      their image pins, laid out as DIR/images/pins is
/// </code>
/// The directories are held to the state directory's rules (<see cref="StateDirectory"/>): /run/kubefly
/// made by someone else, or a KEY directory that names another state directory, is refused.
/// </summary>
public static class RuntimeDirectory
{
    public const string Base = "/run/kubefly";
    public const string IdentityFile = "state-directory";

    /// <summary>The state directory's runtime directory (which may not exist yet).</summary>
    public static string For(string stateDirectory)
    {
        var hash = new Fnv1a();
        hash.Add(Encoding.UTF8.GetBytes(Normalize(stateDirectory)));
        return Path.Combine(Base, hash.Value.ToString("x16", CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Creates the runtime directory of <paramref name="stateDirectory"/> (0755, as the state directory
    /// is) with its identity file, or checks the one that stands is safe and is this state directory's.
    /// </summary>
    public static string Ensure(string stateDirectory)
    {
        var directory = For(stateDirectory);
        StateDirectory.Ensure(Base, StateDirectory.Mode0755);
        RequireInMemory();
        if (Interop.TryGetPathStatus(directory, followSymlinks: false, out _) == Errno.ENOENT)
        {
            // Made whole, then renamed into place: a runtime directory without its identity file is
            // never a creator caught half-way, so it is refused as damage.
            var building = Path.Combine(Base, $".{Path.GetFileName(directory)}.tmp-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}");
            if (Directory.Exists(building))
            {
                // Left by a kubefly killed half-way that had this pid before.
                Directory.Delete(building, recursive: true);
            }

            Directory.CreateDirectory(building, StateDirectory.Mode0755);
            File.SetUnixFileMode(building, StateDirectory.Mode0755);
            File.WriteAllText(Path.Combine(building, IdentityFile), Normalize(stateDirectory) + "\n");
            try
            {
                Directory.Move(building, directory);
            }
            catch (IOException) when (Directory.Exists(directory))
            {
                // Another kubefly made it first; its identity is checked below like any other.
                Directory.Delete(building, recursive: true);
            }
        }

        StateDirectory.Check(directory);
        CheckIdentity(stateDirectory, directory);
        return directory;
    }

    /// <summary>
    /// The runtime directory when it exists and is safe and this state directory's; null when there is
    /// none (no transient pod was ever made for this state directory since the boot).
    /// </summary>
    public static string? Existing(string stateDirectory)
    {
        var directory = For(stateDirectory);
        StateDirectory.Check(Base);
        StateDirectory.Check(directory);
        if (Interop.TryGetPathStatus(directory, followSymlinks: false, out _) == Errno.ENOENT)
        {
            return null;
        }

        CheckIdentity(stateDirectory, directory);
        return directory;
    }

    /// <summary>
    /// Transient pods are promised to end with the boot, which only a filesystem in memory keeps (systemd
    /// mounts /run as a tmpfs; a container or a machine booted without it may not have one). On a disk,
    /// they would outlive the reboot with their pins, and would cost the inodes they exist to avoid.
    /// </summary>
    public static void RequireInMemory()
    {
        if (!Interop.IsInMemoryFileSystem(Base))
        {
            throw new KubeflyException(
                $"transient pods need {Base} on a tmpfs, so that the reboot ends them, and it is on a disk here. " +
                $"Fix: mount -t tmpfs -o mode=0755,size=10% kubefly-run {Base} (or mount /run as a tmpfs), or run without --transient-pods");
        }
    }

    // "--dir=/var/lib/kubefly/" and "--dir=/var/lib/kubefly" are one state directory, so one runtime directory.
    private static string Normalize(string stateDirectory) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(stateDirectory));

    private static void CheckIdentity(string stateDirectory, string directory)
    {
        var identity = Path.Combine(directory, IdentityFile);
        var expected = Normalize(stateDirectory);
        string? found;
        try
        {
            var status = Interop.TryGetPathStatus(identity, followSymlinks: false, out var metadata);
            found = status == 0 && metadata.IsRegularFile && new FileInfo(identity).Length <= 8192
                ? File.ReadAllText(identity).TrimEnd('\n')
                : null;
        }
        catch (IOException)
        {
            found = null;
        }

        if (found != expected)
        {
            throw new UnsafeStateDirectoryException(
                $"refusing to use runtime directory {directory}: its {IdentityFile} file names " +
                (found is null ? "no state directory" : $"state directory {UntrustedText.Printable(found)}") +
                $", not {expected}. Fix: check what it holds, then remove it (no pod of {expected} is transient while it stands)");
        }
    }
}
