using System.Formats.Tar;
using Kubefly.Linux;
using Kubefly.Oci;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Images.Unpacking;

// One method per entry kind. Each resolves the parent directory inside the root, then creates the final
// component with an *at call that never follows it (O_EXCL|O_NOFOLLOW, symlinkat, linkat, mknodat),
// replacing whatever was there; attributes go through the new descriptor or with AT_SYMLINK_NOFOLLOW.
internal sealed partial class LayerExtraction
{
    private const int OpenDirectoryFlags = Interop.O_RDONLY | Interop.O_DIRECTORY | Interop.O_NOFOLLOW;

    private void RegularFile(TarEntry entry, string path)
    {
        var (parentPath, name) = EntryPath.Split(path);
        var parent = _tree.OpenDirectory(parentPath, create: true, _recordCreated, out var parentIdentity);
        var stored = _localContent is not null && entry.Length > 0 ? _localContent.TryClaim(path, entry.Length) : null;
        if (stored is { } claimed && TryLinkStored(entry, path, parent, name, claimed.File, claimed.Digest))
        {
            RecordCreated(parentIdentity, name);
            _regularFileCount++;
            return;
        }
        const int createFlags = Interop.O_WRONLY | Interop.O_CREAT | Interop.O_EXCL | Interop.O_NOFOLLOW;
        var errno = Interop.TryOpenat(parent, name, createFlags, 0b110_000_000, out var file);
        if (errno == Errno.EEXIST)
        {
            _tree.Remove(parent, name, path);
            errno = Interop.TryOpenat(parent, name, createFlags, 0b110_000_000, out file);
        }

        if (errno != 0)
        {
            throw Fail($"cannot create file: {Errno.Describe(errno)}", null);
        }

        using (file)
        {
            var (prefix, signature) = _files is not null && entry.Length > 0 ? TakePrefix() : (null, 0UL);
            _inContent = true;
            var digest = stored is { } source && CopyStored(file, source.File, entry) ? source.Digest : WriteContent(file, entry);
            _inContent = false;
            _files?.Add(new LayerFile(path, entry.Length, digest) { Prefix = prefix, Signature = signature });
            SetOwnerAndMode(file, entry);
            SetXattrs(file, entry);
            SetTimes(file, entry);
            _regularFiles[path] = Identify(file);
        }

        RecordCreated(parentIdentity, name);
        _regularFileCount++;
    }

    /// <summary>
    /// Gives the stored file that holds this entry's content a second name here, when its owner, mode and
    /// times are the entry's and neither has extended attributes; then reads the content through (the
    /// diff_id is hashed from the stream) without writing it. False: write a copy as usual.
    /// </summary>
    private bool TryLinkStored(TarEntry entry, string path, SafeFileHandle parent, string name, SafeFileHandle stored, Digest digest)
    {
        // The stream reads the content from the claimed descriptor, which it owns; only look at it here.
        var status = Interop.Fstat(stored, path);
        var (seconds, nanoseconds) = ToTimespec(entry.ModificationTime);
        if (!status.IsRegularFile || status.Size != entry.Length || status.Permissions != Mode(entry)
            || status.Uid != (uint)entry.Uid || status.Gid != (uint)entry.Gid || entry.Uid < 0 || entry.Gid < 0
            || status.ModifySeconds != seconds || status.ModifyNanoseconds != nanoseconds
            || HasXattrEntries(entry) || Interop.HasXattrs(stored))
        {
            return false;
        }

        var errno = Interop.TryLinkDescriptor(stored, parent, name);
        if (errno == Errno.EEXIST)
        {
            _tree.Remove(parent, name, path);
            errno = Interop.TryLinkDescriptor(stored, parent, name);
        }

        if (errno != 0)
        {
            // EMLINK, EXDEV, EPERM: a copy does as well.
            return false;
        }

        var (prefix, signature) = _files is not null ? TakePrefix() : (null, 0UL);
        _inContent = true;
        SkipContent(entry);
        _inContent = false;
        _files?.Add(new LayerFile(path, entry.Length, digest) { Prefix = prefix, Signature = signature });
        _regularFiles[path] = new FileIdentity(status.DeviceId, status.Inode);
        _linkedFileCount++;
        return true;
    }

    /// <summary>
    /// A stored file that cannot be shared (other metadata, extended attributes) is copied in the kernel
    /// (copy_file_range: a reflink where the filesystem can), then read through for the diff_id. False when
    /// the kernel will not copy (another filesystem, EINVAL): the content is written from the stream, over
    /// whatever part was copied (explicit offsets left the file position at 0).
    /// </summary>
    private bool CopyStored(SafeFileHandle file, SafeFileHandle stored, TarEntry entry)
    {
        if (Interop.TryCopyFileRange(stored, file, entry.Length) != 0)
        {
            return false;
        }

        SkipContent(entry);
        _contentBytes += entry.Length;
        return true;
    }

    private static bool HasXattrEntries(TarEntry entry) =>
        entry is PaxTarEntry pax && pax.ExtendedAttributes.Keys.Any(k => k.StartsWith(PaxXattrPrefix, StringComparison.Ordinal) || k.StartsWith("LIBARCHIVE.xattr.", StringComparison.Ordinal));

    private void SkipContent(TarEntry entry)
    {
        var data = entry.DataStream;
        try
        {
            while (data is not null && data.Read(_buffer, 0, _buffer.Length) > 0)
            {
                _cancellationToken.ThrowIfCancellationRequested();
            }
        }
        catch (Exception e) when (IsTarFormatError(e))
        {
            throw Fail($"truncated file content: {RuntimeText.Describe(e)}", e);
        }
    }

    private void Directory(TarEntry entry, string path)
    {
        var (parentPath, name) = EntryPath.Split(path);
        var parent = _tree.OpenDirectory(parentPath, create: true, _recordCreated, out var parentIdentity);
        var errno = Interop.TryMkdirat(parent, name, 0b111_000_000);
        if (errno == Errno.EEXIST)
        {
            // A directory over a directory keeps its contents and takes the new attributes; over
            // anything else (a symlink included, never followed) it replaces.
            errno = Interop.TryOpenat(parent, name, OpenDirectoryFlags, 0, out var existing);
            if (errno == 0)
            {
                using (existing)
                {
                    SetDirectoryAttributes(existing, entry, path);
                }

                RecordCreated(parentIdentity, name);
                RecordRedeclared(parentIdentity, name);
                _directoryCount++;
                return;
            }

            if (errno is not (Errno.ENOTDIR or Errno.ELOOP))
            {
                throw Fail($"cannot open the existing directory: {Errno.Describe(errno)}", null);
            }

            _tree.Remove(parent, name, path);
            errno = Interop.TryMkdirat(parent, name, 0b111_000_000);
        }

        if (errno != 0)
        {
            throw Fail($"cannot create directory: {Errno.Describe(errno)}", null);
        }

        errno = Interop.TryOpenat(parent, name, OpenDirectoryFlags, 0, out var directory);
        if (errno != 0)
        {
            throw Fail($"cannot open the new directory: {Errno.Describe(errno)}", null);
        }

        using (directory)
        {
            SetDirectoryAttributes(directory, entry, path);
        }

        RecordCreated(parentIdentity, name);
        _directoryCount++;
    }

    /// <summary>"./" or "/": the root's own attributes (the merged root of an overlay takes the top layer's).</summary>
    private void RootDirectory(TarEntry entry)
    {
        SetDirectoryAttributes(_tree.Root, entry, string.Empty);
        _directoryCount++;
    }

    private void SetDirectoryAttributes(SafeFileHandle directory, TarEntry entry, string path)
    {
        SetOwnerAndMode(directory, entry);
        SetXattrs(directory, entry);

        // Creating children changes a directory's mtime: set it after the last entry.
        var (seconds, nanoseconds) = ToTimespec(entry.ModificationTime);
        _directoryTimes.Add(new DirectoryTime(path, Identify(directory), seconds, nanoseconds));
    }

    private void Symlink(TarEntry entry, string path)
    {
        var target = entry.LinkName;
        if (string.IsNullOrEmpty(target))
        {
            throw Fail("symlink with an empty target", null);
        }

        if (target.Contains('\0'))
        {
            throw Fail("symlink target contains a NUL byte", null);
        }

        if (target.Length > _limits.MaxPathLength)
        {
            throw Fail($"symlink target longer than {_limits.MaxPathLength} characters", null);
        }

        // The target is stored as written: it is only ever followed by RESOLVE_IN_ROOT lookups (ours) or
        // inside the container, where "/" is the rootfs.
        var (parentPath, name) = EntryPath.Split(path);
        var parent = _tree.OpenDirectory(parentPath, create: true, _recordCreated, out var parentIdentity);
        var errno = Interop.TrySymlinkat(target, parent, name);
        if (errno == Errno.EEXIST)
        {
            _tree.Remove(parent, name, path);
            errno = Interop.TrySymlinkat(target, parent, name);
        }

        if (errno != 0)
        {
            throw Fail($"cannot create symlink: {Errno.Describe(errno)}", null);
        }

        SetOwnerNoFollow(parent, name, entry);
        SetTimesNoFollow(parent, name, entry);
        RecordCreated(parentIdentity, name);
        _symlinkCount++;
    }

    private void Hardlink(TarEntry entry, string path)
    {
        if (!EntryPath.TryNormalize(entry.LinkName, _limits.MaxPathLength, out var targetPath, out var problem))
        {
            throw Fail($"hardlink target: {problem}", null);
        }

        if (!_regularFiles.TryGetValue(targetPath, out var expected))
        {
            throw Fail($"hardlink target \"{UntrustedText.Printable(entry.LinkName)}\" is not a regular file earlier in this layer", null);
        }

        if (targetPath == path)
        {
            throw Fail("hardlink to itself", null);
        }

        var (targetParentPath, targetName) = EntryPath.Split(targetPath);
        using var targetParent = _tree.OpenDirectoryOwned(targetParentPath)
            ?? throw Fail($"hardlink target \"{UntrustedText.Printable(entry.LinkName)}\" no longer exists", null);

        // Same inode as when this layer wrote it: not a symlink or a lower-layer file swapped in since.
        var errno = Interop.TryLstatAt(targetParent, targetName, out var status);
        if (errno != 0 || !status.IsRegularFile || status.Inode != expected.Inode || status.DeviceId != expected.Device)
        {
            throw Fail($"hardlink target \"{UntrustedText.Printable(entry.LinkName)}\" is no longer the file this layer created", null);
        }

        var (parentPath, name) = EntryPath.Split(path);
        var parent = _tree.OpenDirectory(parentPath, create: true, _recordCreated, out var parentIdentity);
        errno = Interop.TryLinkat(targetParent, targetName, parent, name);
        if (errno == Errno.EEXIST)
        {
            _tree.Remove(parent, name, path);
            errno = Interop.TryLinkat(targetParent, targetName, parent, name);
        }

        if (errno != 0)
        {
            throw Fail($"cannot create hardlink to \"{UntrustedText.Printable(entry.LinkName)}\": {Errno.Describe(errno)}", null);
        }

        _regularFiles[path] = expected;
        RecordCreated(parentIdentity, name);
        _hardlinkCount++;
    }

    /// <summary>Character and block devices and fifos: created with mknodat and never opened.</summary>
    private void SpecialFile(TarEntry entry, string path)
    {
        var type = entry.EntryType switch
        {
            TarEntryType.CharacterDevice => Interop.S_IFCHR,
            TarEntryType.BlockDevice => Interop.S_IFBLK,
            _ => Interop.S_IFIFO,
        };
        uint major = 0, minor = 0;
        if (type != Interop.S_IFIFO && entry is PosixTarEntry posix)
        {
            if (posix.DeviceMajor < 0 || posix.DeviceMinor < 0)
            {
                throw Fail("negative device number", null);
            }

            major = (uint)posix.DeviceMajor;
            minor = (uint)posix.DeviceMinor;
        }

        var (parentPath, name) = EntryPath.Split(path);
        var parent = _tree.OpenDirectory(parentPath, create: true, _recordCreated, out var parentIdentity);
        var mode = type | (Mode(entry) & 0b111_111_111);
        var errno = Interop.TryMknodat(parent, name, mode, major, minor);
        if (errno == Errno.EEXIST)
        {
            _tree.Remove(parent, name, path);
            errno = Interop.TryMknodat(parent, name, mode, major, minor);
        }

        if (errno != 0)
        {
            throw Fail($"cannot create {entry.EntryType} {major}:{minor}: {Errno.Describe(errno)}", null);
        }

        SetOwnerNoFollow(parent, name, entry);

        // mknod applied the umask and cannot set setuid/setgid/sticky: set the exact mode, without following.
        errno = Interop.TryFchmodatNoFollow(parent, name, Mode(entry));
        if (errno != 0)
        {
            throw Fail($"cannot set mode {Mode(entry):o}: {Errno.Describe(errno)}", null);
        }

        if (HasXattrs(entry))
        {
            Warn("extended attributes on a device or fifo are not restored");
        }

        SetTimesNoFollow(parent, name, entry);
        RecordCreated(parentIdentity, name);
        _specialFileCount++;
    }

    /// <summary>Writes the entry's content; its digest when the layer's file table is being built, else default.</summary>
    private Digest WriteContent(SafeFileHandle file, TarEntry entry)
    {
        var data = entry.DataStream;
        if (data is null)
        {
            return _files is null ? default : EmptyContentDigest;
        }

        try
        {
            int read;
            while ((read = data.Read(_buffer, 0, _buffer.Length)) > 0)
            {
                _cancellationToken.ThrowIfCancellationRequested();
                var errno = Interop.TryWriteAll(file, _buffer.AsSpan(0, read));
                if (errno != 0)
                {
                    throw Fail($"writing file content failed: {Errno.Describe(errno)}", null);
                }

                _fileHash?.AppendData(_buffer, 0, read);
                _contentBytes += read;
            }

            return _fileHash is null ? default : Digest.FromHashBytes(_fileHash.GetHashAndReset());
        }
        catch (Exception e) when (IsTarFormatError(e))
        {
            throw Fail($"truncated file content: {RuntimeText.Describe(e)}", e);
        }
    }

    private FileIdentity Identify(SafeFileHandle handle)
    {
        var errno = Interop.TryLstatAt(handle, string.Empty, out var status);
        if (errno != 0)
        {
            throw Fail($"statx failed: {Errno.Describe(errno)}", null);
        }

        return new FileIdentity(status.DeviceId, status.Inode);
    }
}
