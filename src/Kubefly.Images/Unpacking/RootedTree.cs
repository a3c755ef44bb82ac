using Kubefly.Linux;
using Kubefly.Oci;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Images.Unpacking;

/// <summary>
/// A directory tree reached only through descriptors anchored at its root. Directories are resolved
/// with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so "..", absolute paths and symlinks (absolute
/// ones meaning root-relative) can never lead outside; every change then names one final component
/// with an *at call that does not follow it. There is no string-path fallback.
/// </summary>
internal sealed class RootedTree : IDisposable
{
    private const ulong InRoot = Interop.RESOLVE_IN_ROOT | Interop.RESOLVE_NO_MAGICLINKS;
    private const ulong InRootNoSymlinks = InRoot | Interop.RESOLVE_NO_SYMLINKS;

    private readonly Func<string, Exception?, Exception> _fail;

    // The last directory resolved: tar entries come grouped by directory, so most lookups hit it.
    // Any removal invalidates it (the cached descriptor could then name a directory no longer in the tree).
    // A descriptor handed out stays open until the next lookup, so invalidation only marks the cache stale.
    private string? _cachedPath;
    private SafeFileHandle? _cachedHandle;
    private DirectoryIdentity _cachedIdentity;
    private bool _stale;

    public RootedTree(string rootPath, Func<string, Exception?, Exception> fail)
    {
        RootPath = rootPath;
        _fail = fail;
        try
        {
            Root = Interop.OpenDirectory(rootPath);
        }
        catch (SyscallException e)
        {
            throw fail($"cannot open the root directory {rootPath}: {Errno.Describe(e.Errno)}", e);
        }

        RootIdentity = Identify(Root, string.Empty);
    }

    public string RootPath { get; }

    /// <summary>O_RDONLY|O_DIRECTORY descriptor of the root: usable for fchmod, fsetxattr, syncfs.</summary>
    public SafeFileHandle Root { get; }

    public DirectoryIdentity RootIdentity { get; }

    /// <summary>
    /// The directory at <paramref name="path"/> (root-relative, normalized) as an O_PATH descriptor owned by
    /// the tree, valid until the next lookup (do not dispose), creating missing directories (0755,
    /// root-owned) when asked. <paramref name="created"/> hears of each directory made on the way.
    /// </summary>
    public SafeFileHandle OpenDirectory(string path, bool create, Action<DirectoryIdentity, string>? created, out DirectoryIdentity identity) =>
        TryOpenDirectory(path, create, created, out identity)
        ?? throw _fail($"directory \"{UntrustedText.Printable(path)}\" does not exist", null);

    /// <summary>As <see cref="OpenDirectory"/>, but null when the directory does not exist and is not to be created.</summary>
    public SafeFileHandle? TryOpenDirectory(string path, bool create, Action<DirectoryIdentity, string>? created, out DirectoryIdentity identity)
    {
        DropStaleCache();
        if (path.Length == 0)
        {
            identity = RootIdentity;
            return Root;
        }

        if (_cachedHandle is not null && _cachedPath == path)
        {
            identity = _cachedIdentity;
            return _cachedHandle;
        }

        var handle = Resolve(path, create, InRoot, created);
        if (handle is null)
        {
            identity = default;
            return null;
        }

        _cachedHandle?.Dispose();
        _cachedPath = path;
        _cachedHandle = handle;
        _cachedIdentity = Identify(handle, path);
        identity = _cachedIdentity;
        return handle;
    }

    /// <summary>
    /// Resolves a directory for whiteout processing, where no symlink may appear on the way: null when it
    /// does not exist (and <paramref name="create"/> is false). The caller owns the descriptor.
    /// </summary>
    public SafeFileHandle? OpenDirectoryNoSymlinks(string path, bool create, int openFlags, Action<DirectoryIdentity, string>? created)
    {
        if (path.Length == 0)
        {
            var errno = Interop.TryOpenat(Root, ".", openFlags | Interop.O_DIRECTORY, 0, out var self);
            return errno == 0 ? self : throw _fail($"cannot reopen the root directory: {Errno.Describe(errno)}", null);
        }

        var resolved = Resolve(path, create, InRootNoSymlinks, created);
        if (resolved is null || openFlags == Interop.O_PATH)
        {
            return resolved;
        }

        using (resolved)
        {
            return Reopen(resolved, path, openFlags);
        }
    }

    /// <summary>Identity (device, inode) of an open directory.</summary>
    public DirectoryIdentity Identify(SafeFileHandle handle, string pathForErrors)
    {
        var errno = Interop.TryLstatAt(handle, string.Empty, out var status);
        if (errno != 0)
        {
            throw _fail($"statx of \"{UntrustedText.Printable(pathForErrors)}\" failed: {Errno.Describe(errno)}", null);
        }

        return new DirectoryIdentity(status.DeviceId, status.Inode);
    }

    /// <summary>
    /// Removes <paramref name="name"/> from <paramref name="directory"/>: a file, a symlink (never its target)
    /// or a whole directory tree. Nothing there is fine.
    /// </summary>
    public void Remove(SafeFileHandle directory, string name, string pathForErrors)
    {
        Invalidate();
        var errno = Interop.TryUnlinkat(directory, name, 0);
        if (errno is 0 or Errno.ENOENT)
        {
            return;
        }

        if (errno is Errno.EISDIR or Errno.EPERM)
        {
            RemoveTree(directory, name, pathForErrors);
            return;
        }

        throw _fail($"cannot remove \"{UntrustedText.Printable(pathForErrors)}\": {Errno.Describe(errno)}", null);
    }

    /// <summary>
    /// An owned descriptor for a directory resolved inside the root (following symlinks as if chrooted),
    /// or null when it does not exist; for a second directory alongside the cached one.
    /// </summary>
    public SafeFileHandle? OpenDirectoryOwned(string path)
    {
        if (path.Length == 0)
        {
            var errno = Interop.TryOpenat(Root, ".", Interop.O_PATH | Interop.O_DIRECTORY, 0, out var self);
            return errno == 0 ? self : throw _fail($"cannot reopen the root directory: {Errno.Describe(errno)}", null);
        }

        return Resolve(path, create: false, InRoot, created: null);
    }

    /// <summary>Forgets the cached directory (after anything that removes or replaces a tree node).</summary>
    public void Invalidate() => _stale = true;

    public void Dispose()
    {
        _cachedHandle?.Dispose();
        Root.Dispose();
    }

    private void DropStaleCache()
    {
        if (_stale)
        {
            _cachedHandle?.Dispose();
            _cachedHandle = null;
            _cachedPath = null;
            _stale = false;
        }
    }

    private void RemoveTree(SafeFileHandle parent, string name, string pathForErrors)
    {
        var errno = Interop.TryOpenat(parent, name, Interop.O_RDONLY | Interop.O_DIRECTORY | Interop.O_NOFOLLOW, 0, out var directory);
        if (errno is Errno.ENOTDIR or Errno.ELOOP)
        {
            // Not a directory after all: unlink the node itself.
            errno = Interop.TryUnlinkat(parent, name, 0);
            if (errno is 0 or Errno.ENOENT)
            {
                return;
            }
        }

        if (errno != 0)
        {
            throw _fail($"cannot remove \"{UntrustedText.Printable(pathForErrors)}\": {Errno.Describe(errno)}", null);
        }

        using (directory)
        {
            foreach (var child in Interop.ReadDirectoryNames(directory, pathForErrors))
            {
                var childError = Interop.TryUnlinkat(directory, child, 0);
                if (childError is Errno.EISDIR or Errno.EPERM)
                {
                    RemoveTree(directory, child, $"{pathForErrors}/{child}");
                }
                else if (childError is not (0 or Errno.ENOENT))
                {
                    throw _fail($"cannot remove \"{UntrustedText.Printable($"{pathForErrors}/{child}")}\": {Errno.Describe(childError)}", null);
                }
            }
        }

        errno = Interop.TryUnlinkat(parent, name, Interop.AT_REMOVEDIR);
        if (errno is not (0 or Errno.ENOENT))
        {
            throw _fail($"cannot remove directory \"{UntrustedText.Printable(pathForErrors)}\": {Errno.Describe(errno)}", null);
        }
    }

    /// <summary>openat2 of a whole path under the root; on ENOENT, optionally creates it one component at a time.</summary>
    private SafeFileHandle? Resolve(string path, bool create, ulong resolve, Action<DirectoryIdentity, string>? created)
    {
        var errno = TryResolve(path, resolve, out var handle);
        if (errno == 0)
        {
            return handle;
        }

        if (errno == Errno.ENOENT && create)
        {
            return CreateDirectories(path, resolve, created);
        }

        if (errno == Errno.ENOENT)
        {
            return null;
        }

        throw _fail(DescribeResolveFailure(path, errno, resolve), null);
    }

    private SafeFileHandle CreateDirectories(string path, ulong resolve, Action<DirectoryIdentity, string>? created)
    {
        SafeFileHandle? parent = null;
        try
        {
            var end = 0;
            while (end < path.Length)
            {
                var next = path.IndexOf('/', end);
                end = next < 0 ? path.Length : next;
                var prefix = path[..end];
                var errno = TryResolve(prefix, resolve, out var handle);
                if (errno == Errno.ENOENT)
                {
                    var name = prefix[(prefix.LastIndexOf('/') + 1)..];
                    var anchor = parent ?? Root;
                    var made = Interop.TryMkdirat(anchor, name, 0b111_101_101);
                    if (made == 0)
                    {
                        created?.Invoke(parent is null ? RootIdentity : Identify(anchor, prefix), name);
                    }
                    else if (made != Errno.EEXIST)
                    {
                        throw _fail($"cannot create directory \"{UntrustedText.Printable(prefix)}\": {Errno.Describe(made)}", null);
                    }

                    errno = TryResolve(prefix, resolve, out handle);
                    if (errno == Errno.ENOENT)
                    {
                        throw _fail($"\"{UntrustedText.Printable(prefix)}\" is a dangling symlink: cannot create a directory through it", null);
                    }
                }

                if (errno != 0)
                {
                    throw _fail(DescribeResolveFailure(prefix, errno, resolve), null);
                }

                parent?.Dispose();
                parent = handle;
                end++;
            }

            var result = parent!;
            parent = null;
            return result;
        }
        finally
        {
            parent?.Dispose();
        }
    }

    private int TryResolve(string path, ulong resolve, out SafeFileHandle handle)
    {
        int errno;
        var attempts = 0;
        do
        {
            // EAGAIN: the kernel saw a concurrent rename and refused to guess; try again a few times.
            errno = Interop.TryOpenat2(Root, path, Interop.O_PATH | Interop.O_DIRECTORY, 0, resolve, out handle);
        }
        while (errno == Errno.EAGAIN && ++attempts < 16);

        return errno;
    }

    private SafeFileHandle Reopen(SafeFileHandle pathHandle, string path, int flags)
    {
        var errno = Interop.TryOpenat(pathHandle, ".", flags | Interop.O_DIRECTORY, 0, out var handle);
        if (errno != 0)
        {
            throw _fail($"cannot open directory \"{UntrustedText.Printable(path)}\": {Errno.Describe(errno)}", null);
        }

        return handle;
    }

    private static string DescribeResolveFailure(string path, int errno, ulong resolve)
    {
        var printable = UntrustedText.Printable(path);
        return errno switch
        {
            Errno.ELOOP when (resolve & Interop.RESOLVE_NO_SYMLINKS) != 0 =>
                $"\"{printable}\" goes through a symlink, which is not allowed here",
            Errno.ELOOP => $"\"{printable}\" has too many levels of symlinks",
            Errno.ENOTDIR => $"\"{printable}\" is not a directory",
            _ => $"cannot resolve \"{printable}\" inside the root: {Errno.Describe(errno)}",
        };
    }
}

/// <summary>A directory's device and inode: how "created by this layer" is tracked, immune to path aliasing.</summary>
internal readonly record struct DirectoryIdentity(ulong Device, ulong Inode);
