using Kubefly.Linux;

namespace Kubefly.Images.Unpacking;

// Whiteouts (".wh.NAME") and opaque markers (".wh..wh..opq"). Their directory must resolve inside the
// root without any symlink on the way: a whiteout reached through a symlink could delete or mark
// something the layer never named. A whiteout never removes what this same layer created.
internal sealed partial class LayerExtraction
{
    private const string AufsMetadataPrefix = ".wh..wh.";

    private void Whiteout(string parentPath, string name)
    {
        _whiteoutCount++;
        if (name == EntryPath.OpaqueMarker)
        {
            if (_mode == UnpackMode.Apply)
            {
                ApplyOpaque(parentPath);
            }
            else
            {
                MarkOpaque(parentPath);
            }

            _opaqueCount++;
            return;
        }

        if (name.StartsWith(AufsMetadataPrefix, StringComparison.Ordinal))
        {
            Warn("AUFS metadata entry ignored");
            return;
        }

        var target = name[EntryPath.WhiteoutPrefix.Length..];
        if (target.Length == 0)
        {
            throw Fail("whiteout names nothing (bare \".wh.\")", null);
        }

        if (target is "." or "..")
        {
            throw Fail($"whiteout of \"{target}\" would escape its directory", null);
        }

        if (_mode == UnpackMode.Apply)
        {
            ApplyWhiteout(parentPath, target);
        }
        else
        {
            CreateOverlayWhiteout(parentPath, target);
        }
    }

    /// <summary>Apply mode: deletes NAME (a whole tree if a directory, never a symlink's target) from what lower layers left.</summary>
    private void ApplyWhiteout(string parentPath, string target)
    {
        using var directory = _tree.OpenDirectoryNoSymlinks(parentPath, create: false, Interop.O_PATH, created: null);
        if (directory is null)
        {
            return;
        }

        var identity = _tree.Identify(directory, parentPath);
        if (_created.Contains(new CreatedName(identity.Device, identity.Inode, target)))
        {
            Warn("whiteout of an entry this same layer created: kept");
            return;
        }

        _tree.Remove(directory, target, EntryPath.Join(parentPath, target));
    }

    /// <summary>Overlay mode: NAME becomes a character device 0:0, overlayfs's whiteout.</summary>
    private void CreateOverlayWhiteout(string parentPath, string target)
    {
        using var directory = _tree.OpenDirectoryNoSymlinks(parentPath, create: true, Interop.O_PATH, created: null)!;
        if (Interop.TryLstatAt(directory, target, out _) == 0)
        {
            // The layer directory started empty, so this layer made it: an entry and its own whiteout; keep the entry.
            Warn("whiteout of an entry this same layer created: kept");
            return;
        }

        var errno = Interop.TryMknodat(directory, target, Interop.S_IFCHR, 0, 0);
        if (errno != 0)
        {
            throw Fail($"cannot create the overlay whiteout: {Errno.Describe(errno)}", null);
        }
    }

    /// <summary>Apply mode: every child the lower layers left in the directory goes; what this layer made stays.</summary>
    private void ApplyOpaque(string directoryPath)
    {
        using var directory = _tree.OpenDirectoryNoSymlinks(directoryPath, create: true, Interop.O_RDONLY, _recordCreated)!;
        ClearLowerChildren(directory, directoryPath);
    }

    private void ClearLowerChildren(Microsoft.Win32.SafeHandles.SafeFileHandle directory, string directoryPath)
    {
        var identity = _tree.Identify(directory, directoryPath);
        foreach (var child in Interop.ReadDirectoryNames(directory, directoryPath))
        {
            var key = new CreatedName(identity.Device, identity.Inode, child);
            var childPath = EntryPath.Join(directoryPath, child);
            if (!_created.Contains(key))
            {
                _tree.Remove(directory, child, childPath);
            }
            else if (_redeclared.Contains(key))
            {
                // A lower directory this layer re-declared: its lower children are hidden too.
                var errno = Interop.TryOpenat(directory, child, OpenDirectoryFlags, 0, out var redeclared);
                if (errno == 0)
                {
                    using (redeclared)
                    {
                        ClearLowerChildren(redeclared, childPath);
                    }
                }
            }
        }
    }

    /// <summary>Overlay mode: trusted.overlay.opaque=y on the directory (created if the layer has not yet).</summary>
    private void MarkOpaque(string directoryPath)
    {
        using var directory = _tree.OpenDirectoryNoSymlinks(directoryPath, create: true, Interop.O_RDONLY, created: null)!;
        var errno = Interop.TryFsetxattr(directory, "trusted.overlay.opaque", "y"u8);
        if (errno != 0)
        {
            throw Fail($"cannot mark the directory opaque (trusted.overlay.opaque): {Errno.Describe(errno)}", null);
        }
    }
}
