using System.Formats.Tar;
using System.Text;
using Kubefly.Linux;
using Kubefly.Oci;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Images.Unpacking;

// Owners, modes, times and extended attributes. Numeric ids win over names (names are never looked up);
// chown precedes chmod (chown clears setuid/setgid); security.capability goes after both and after the
// content (writes and chown clear it); directory times wait for the end of the layer.
internal sealed partial class LayerExtraction
{
    private const string PaxXattrPrefix = "SCHILY.xattr.";

    private static uint Mode(TarEntry entry) => (uint)entry.Mode & 0xFFF;

    private void SetOwnerAndMode(SafeFileHandle handle, TarEntry entry)
    {
        var (uid, gid) = Owner(entry);
        var errno = Interop.TryFchown(handle, uid, gid);
        if (errno != 0)
        {
            throw Fail($"cannot set owner {uid}:{gid}: {Errno.Describe(errno)}", null);
        }

        errno = Interop.TryFchmod(handle, Mode(entry));
        if (errno != 0)
        {
            throw Fail($"cannot set mode {Mode(entry):o}: {Errno.Describe(errno)}", null);
        }
    }

    private void SetOwnerNoFollow(SafeFileHandle parent, string name, TarEntry entry)
    {
        var (uid, gid) = Owner(entry);
        var errno = Interop.TryLchownat(parent, name, uid, gid);
        if (errno != 0)
        {
            throw Fail($"cannot set owner {uid}:{gid}: {Errno.Describe(errno)}", null);
        }
    }

    private (uint Uid, uint Gid) Owner(TarEntry entry)
    {
        if (entry.Uid < 0 || entry.Gid < 0)
        {
            throw Fail($"negative owner {entry.Uid}:{entry.Gid}", null);
        }

        return ((uint)entry.Uid, (uint)entry.Gid);
    }

    private void SetTimes(SafeFileHandle handle, TarEntry entry)
    {
        var (seconds, nanoseconds) = ToTimespec(entry.ModificationTime);
        var errno = Interop.TryFutimens(handle, seconds, nanoseconds, seconds, nanoseconds);
        if (errno != 0)
        {
            throw Fail($"cannot set times: {Errno.Describe(errno)}", null);
        }
    }

    private void SetTimesNoFollow(SafeFileHandle parent, string name, TarEntry entry)
    {
        var (seconds, nanoseconds) = ToTimespec(entry.ModificationTime);
        var errno = Interop.TryLutimensat(parent, name, seconds, nanoseconds, seconds, nanoseconds);
        if (errno != 0)
        {
            throw Fail($"cannot set times: {Errno.Describe(errno)}", null);
        }
    }

    private void ApplyDirectoryTimes()
    {
        foreach (var time in _directoryTimes)
        {
            _cancellationToken.ThrowIfCancellationRequested();
            if (time.Path.Length == 0)
            {
                _ = Interop.TryFutimens(_tree.Root, time.Seconds, time.Nanoseconds, time.Seconds, time.Nanoseconds);
                continue;
            }

            var (parentPath, name) = EntryPath.Split(time.Path);
            SafeFileHandle? parent;
            try
            {
                parent = _tree.TryOpenDirectory(parentPath, create: false, created: null, out _);
            }
            catch (LayerException)
            {
                // A later entry replaced a parent with a non-directory: nothing left to date.
                continue;
            }

            // Still the directory this layer declared (a later entry may have replaced it)?
            if (parent is null
                || Interop.TryLstatAt(parent, name, out var status) != 0
                || !status.IsDirectory
                || status.Inode != time.Identity.Inode
                || status.DeviceId != time.Identity.Device)
            {
                continue;
            }

            var errno = Interop.TryLutimensat(parent, name, time.Seconds, time.Nanoseconds, time.Seconds, time.Nanoseconds);
            if (errno != 0)
            {
                _entryName = time.Path;
                throw Fail($"cannot set directory times: {Errno.Describe(errno)}", null);
            }
        }
    }

    private static bool HasXattrs(TarEntry entry)
    {
        if (entry is not PaxTarEntry pax || pax.ExtendedAttributes.Count == 0)
        {
            return false;
        }

        foreach (var key in pax.ExtendedAttributes.Keys)
        {
            if (key.StartsWith(PaxXattrPrefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>PAX SCHILY.xattr.* records, through the descriptor. Only allowed namespaces are set.</summary>
    private void SetXattrs(SafeFileHandle handle, TarEntry entry)
    {
        if (entry is not PaxTarEntry pax || pax.ExtendedAttributes.Count == 0)
        {
            return;
        }

        foreach (var (key, value) in pax.ExtendedAttributes)
        {
            if (!key.StartsWith(PaxXattrPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            var name = key[PaxXattrPrefix.Length..];
            var refusal = XattrRefusal(name);
            if (refusal is not null)
            {
                Warn($"extended attribute \"{UntrustedText.Printable(name)}\" dropped: {refusal}");
                continue;
            }

            // The value's exact bytes come from the raw header: TarReader decodes PAX values as UTF-8 (bytes
            // that were not UTF-8 come back as U+FFFD), and TarHeaderGuard hands it a newline as a space.
            // Without the raw bytes, only a value that survived decoding is kept (a wrong
            // security.capability is worse than none).
            var bytes = RawXattrValue(name) ?? (value.Contains('\uFFFD') ? null : Encoding.UTF8.GetBytes(value));
            if (bytes is null)
            {
                Warn($"extended attribute \"{UntrustedText.Printable(name)}\" dropped: its value is not valid UTF-8 and could not be recovered exactly");
                continue;
            }

            if (bytes.Length > _limits.MaxXattrSize)
            {
                throw Fail($"extended attribute \"{UntrustedText.Printable(name)}\" is {bytes.Length} bytes, over the limit of {_limits.MaxXattrSize}", null);
            }

            var errno = Interop.TryFsetxattr(handle, name, bytes);
            if (errno == Errno.EOPNOTSUPP)
            {
                Warn($"extended attribute \"{UntrustedText.Printable(name)}\" not supported by the filesystem: dropped");
            }
            else if (errno != 0)
            {
                throw Fail($"cannot set extended attribute \"{UntrustedText.Printable(name)}\": {Errno.Describe(errno)}", null);
            }
        }
    }

    /// <summary>
    /// Why an attribute from a layer is not set, or null when it is allowed. Overlay's own attributes
    /// (trusted.overlay.*, and user.overlay.* used by userxattr mounts) would let a layer forge whiteouts,
    /// opaque directories or redirects in the lowerdir it becomes.
    /// </summary>
    internal static string? XattrRefusal(string name)
    {
        if (name.Length == 0 || name.Contains('\0'))
        {
            return "malformed name";
        }

        if (name.StartsWith("trusted.overlay.", StringComparison.Ordinal) || name.StartsWith("user.overlay.", StringComparison.Ordinal))
        {
            return "overlayfs metadata cannot come from a layer";
        }

        if (name.StartsWith("user.", StringComparison.Ordinal) || name.StartsWith("trusted.", StringComparison.Ordinal) || name == "security.capability")
        {
            return null;
        }

        return "namespace not restored (only user.*, trusted.* and security.capability are)";
    }

    private static (long Seconds, long Nanoseconds) ToTimespec(DateTimeOffset time)
    {
        var ticks = time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        var seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var remainder);
        if (remainder < 0)
        {
            seconds--;
            remainder += TimeSpan.TicksPerSecond;
        }

        return (seconds, remainder * 100);
    }
}
