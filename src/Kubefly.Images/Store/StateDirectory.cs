using System.Globalization;
using Kubefly.Linux;
using Kubefly.Oci;

namespace Kubefly.Images.Store;

/// <summary>The state directory, or a directory in it, is not safe for root to trust.</summary>
public sealed class UnsafeStateDirectoryException(string message) : KubeflyException(message);

/// <summary>
/// kubefly runs as root and executes what its state directory holds, so that directory and every
/// directory kubefly keeps in it must be writable by kubefly's user alone, as sshd's StrictModes
/// demands of a home directory: owned by the user kubefly runs as, not writable by group or others,
/// and not a symbolic link. Directories are created with an exact mode, whatever the umask; an
/// existing one is checked, never silently changed (something may have been planted in it already).
/// </summary>
public static class StateDirectory
{
    public const UnixFileMode Mode0755 = (UnixFileMode)0b111_101_101;
    public const UnixFileMode Mode0750 = (UnixFileMode)0b111_101_000;
    public const UnixFileMode Mode0700 = (UnixFileMode)0b111_000_000;

    private const uint GroupOrOtherWrite = 0b000_010_010;

    /// <summary>Creates <paramref name="path"/> with exactly <paramref name="mode"/> when missing (parents too), then checks it.</summary>
    public static void Ensure(string path, UnixFileMode mode)
    {
        if (Interop.TryGetPathStatus(path, followSymlinks: false, out _) == Errno.ENOENT)
        {
            Directory.CreateDirectory(path, mode);
            File.SetUnixFileMode(path, mode);
        }

        Check(path);
    }

    /// <summary>Checks <paramref name="path"/> when it exists; a missing one is fine (nothing to trust yet).</summary>
    /// <exception cref="UnsafeStateDirectoryException">It is a symlink, not a directory, someone else's, or writable by others.</exception>
    public static void Check(string path)
    {
        var errno = Interop.TryGetPathStatus(path, followSymlinks: false, out var status);
        if (errno == Errno.ENOENT)
        {
            return;
        }

        if (errno != 0)
        {
            throw new SyscallException("statx", errno, path);
        }

        var user = Interop.GetEffectiveUserId();
        string? problem = null;
        if (status.IsSymbolicLink)
        {
            problem = "it is a symbolic link";
        }
        else if (!status.IsDirectory)
        {
            problem = "it is not a directory";
        }
        else if (status.OwnerId != user)
        {
            problem = $"it is owned by uid {status.OwnerId}, not by uid {user}, the user kubefly runs as";
        }
        else if ((status.Mode & GroupOrOtherWrite) != 0)
        {
            problem = $"it is writable by group or others (mode {Convert.ToString(status.Mode & 0xfff, 8).PadLeft(4, '0')})";
        }

        if (problem is not null)
        {
            throw new UnsafeStateDirectoryException(
                $"refusing to use state directory {path}: {problem}; whoever can write there can make kubefly run their files as root. " +
                $"Fix: check what it holds, then chown {user.ToString(CultureInfo.InvariantCulture)} {path} && chmod go-w {path}");
        }
    }
}
