using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

/// <summary>
/// Removes a file or a whole directory tree by descriptor: every name is unlinked relative to its open
/// parent directory (unlinkat), every directory is opened with O_NOFOLLOW, names stay the bytes the
/// kernel listed. So depth and name length never matter (a path string of the deepest file may be far
/// beyond PATH_MAX), a symlink is removed and never followed, and a directory on another mount (its
/// mount id or device differs from the tree's root) stops the removal before anything in it is touched.
/// The walk keeps an explicit stack of open directory descriptors, one per level, instead of recursing:
/// a layer may hold a directory chain thousands of levels deep.
/// </summary>
public static class TreeRemover
{
    private const int BatchBytes = 32 * 1024;

    // Listings are rescanned when rmdir still finds entries (names created meanwhile, or a filesystem whose
    // getdents skipped some while its directory changed); a directory that keeps refilling is an error.
    private const int MaxRescans = 3;

    private const int DirectoryOpenFlags = Interop.O_RDONLY | Interop.O_DIRECTORY | Interop.O_NOFOLLOW;

    /// <summary>Removes <paramref name="path"/>, whatever it is (file, symlink, directory tree); nothing there is fine.</summary>
    public static void Remove(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path).TrimEnd('/');
        var parentPath = Path.GetDirectoryName(full);
        if (parentPath is null || full.Length == 0)
        {
            throw new TreeRemovalException($"refusing to remove {path}: it is the root directory");
        }

        var errno = Interop.TryOpenat(AtCwd.Instance, parentPath, DirectoryOpenFlags & ~Interop.O_NOFOLLOW, 0, out var parent);
        if (errno == Errno.ENOENT)
        {
            return;
        }

        if (errno != 0)
        {
            throw new SyscallException("open", errno, parentPath);
        }

        using (parent)
        {
            RemoveAt(parent, NullTerminated(Path.GetFileName(full)), full);
        }
    }

    /// <summary>Removes everything in the directory <paramref name="path"/> and keeps the directory itself.</summary>
    public static void RemoveContents(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var errno = Interop.TryOpenat(AtCwd.Instance, path, DirectoryOpenFlags, 0, out var directory);
        if (errno != 0)
        {
            throw new SyscallException("open", errno, path);
        }

        using (directory)
        {
            var batch = ArrayPool<byte>.Shared.Rent(BatchBytes);
            try
            {
                // Each name is removed before the next batch is read: rewinding finds only what is left.
                while (true)
                {
                    errno = Interop.TryReadDirectoryEntries(directory, batch, out var read);
                    if (errno != 0)
                    {
                        throw new SyscallException("getdents64", errno, path);
                    }

                    if (read == 0)
                    {
                        return;
                    }

                    var names = new List<byte[]>();
                    for (var offset = 0; offset < read;)
                    {
                        offset = Interop.ParseDirectoryEntry(batch.AsSpan(0, read), offset, out var nameZ, out _);
                        if (!nameZ.SequenceEqual(".\0"u8) && !nameZ.SequenceEqual("..\0"u8))
                        {
                            names.Add(nameZ.ToArray());
                        }
                    }

                    foreach (var name in names)
                    {
                        RemoveAt(directory, name, Path.Combine(path, Encoding.UTF8.GetString(name.AsSpan(0, name.Length - 1))));
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(batch);
            }
        }
    }

    /// <summary>
    /// Removes the entry <paramref name="nameZ"/> (NUL-terminated bytes) of the open directory
    /// <paramref name="parent"/>; <paramref name="pathForErrors"/> names it in messages.
    /// </summary>
    public static void RemoveAt(SafeHandle parent, ReadOnlySpan<byte> nameZ, string pathForErrors)
    {
        ArgumentNullException.ThrowIfNull(parent);
        var errno = Interop.TryUnlinkatRaw(parent, nameZ, 0);
        if (errno is 0 or Errno.ENOENT)
        {
            return;
        }

        // Linux answers unlink of a directory with EISDIR (POSIX allows EPERM): anything else is a real failure.
        if (errno is not (Errno.EISDIR or Errno.EPERM))
        {
            throw new SyscallException("unlinkat", errno, pathForErrors);
        }

        errno = Interop.TryOpenatRaw(parent, nameZ, DirectoryOpenFlags, out var root);
        if (errno == Errno.ENOENT)
        {
            return;
        }

        if (errno != 0)
        {
            throw new SyscallException(errno is Errno.ENOTDIR or Errno.ELOOP ? "unlinkat" : "openat", errno is Errno.ENOTDIR or Errno.ELOOP ? Errno.EPERM : errno, pathForErrors);
        }

        var parentIdentity = Identify(parent, pathForErrors);
        var rootIdentity = Identify(root, pathForErrors);
        if (!rootIdentity.SameMount(parentIdentity))
        {
            root.Dispose();
            throw new TreeRemovalException($"refusing to remove {pathForErrors}: it is a mount point (unmount it first)");
        }

        var walk = new Walk(parent, root, nameZ.ToArray(), rootIdentity, pathForErrors);
        walk.Run();
    }

    private static Interop.MountIdentity Identify(SafeHandle fd, string pathForErrors)
    {
        var errno = Interop.TryMountIdentity(fd, out var identity);
        return errno == 0 ? identity : throw new SyscallException("statx", errno, pathForErrors);
    }

    private static byte[] NullTerminated(string name)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(name) + 1];
        Encoding.UTF8.GetBytes(name, bytes);
        return bytes;
    }

    /// <summary>One directory being emptied: its descriptor, its name in its parent, the subdirectories still to descend into.</summary>
    private sealed class Frame(SafeFileHandle directory, byte[] nameZ)
    {
        public SafeFileHandle Directory { get; } = directory;

        public byte[] NameZ { get; } = nameZ;

        public List<byte[]> Subdirectories { get; } = [];

        public int Rescans { get; set; }
    }

    private sealed class Walk(SafeHandle parent, SafeFileHandle root, byte[] rootNameZ, Interop.MountIdentity rootIdentity, string rootPath)
    {
        private readonly List<Frame> _stack = [new Frame(root, rootNameZ)];

        public void Run()
        {
            var batch = ArrayPool<byte>.Shared.Rent(BatchBytes);
            try
            {
                while (_stack.Count > 0)
                {
                    var top = _stack[^1];
                    if (top.Subdirectories.Count > 0)
                    {
                        var child = top.Subdirectories[^1];
                        top.Subdirectories.RemoveAt(top.Subdirectories.Count - 1);
                        Descend(top, child);
                    }
                    else if (!EmptyNextBatch(top, batch))
                    {
                        RemoveEmptied(top);
                    }
                }
            }
            finally
            {
                foreach (var frame in _stack)
                {
                    frame.Directory.Dispose();
                }

                ArrayPool<byte>.Shared.Return(batch);
            }
        }

        /// <summary>Unlinks every non-directory of the next listing batch and queues its subdirectories; false at the end.</summary>
        private bool EmptyNextBatch(Frame frame, byte[] batch)
        {
            var errno = Interop.TryReadDirectoryEntries(frame.Directory, batch, out var read);
            if (errno != 0)
            {
                throw new SyscallException("getdents64", errno, DescribePath(null));
            }

            if (read == 0)
            {
                return false;
            }

            var entries = batch.AsSpan(0, read);
            for (var offset = 0; offset < read;)
            {
                offset = Interop.ParseDirectoryEntry(entries, offset, out var nameZ, out var type);
                if (nameZ.SequenceEqual(".\0"u8) || nameZ.SequenceEqual("..\0"u8))
                {
                    continue;
                }

                if (type == Interop.DT_DIR)
                {
                    frame.Subdirectories.Add(nameZ.ToArray());
                    continue;
                }

                // Any other type, DT_UNKNOWN included: unlink; a directory answers EISDIR (or EPERM) and is queued.
                errno = Interop.TryUnlinkatRaw(frame.Directory, nameZ, 0);
                if (errno is Errno.EISDIR or Errno.EPERM && type == Interop.DT_UNKNOWN)
                {
                    frame.Subdirectories.Add(nameZ.ToArray());
                }
                else if (errno is not (0 or Errno.ENOENT))
                {
                    throw new SyscallException("unlinkat", errno, DescribePath(nameZ));
                }
            }

            return true;
        }

        private void Descend(Frame frame, byte[] nameZ)
        {
            var errno = Interop.TryOpenatRaw(frame.Directory, nameZ, DirectoryOpenFlags, out var child);
            switch (errno)
            {
                case 0:
                    break;
                case Errno.ENOENT:
                    return;
                case Errno.ENOTDIR or Errno.ELOOP:
                    // Listed as a directory but replaced meanwhile (or a filesystem's d_type was wrong): unlink what is there.
                    errno = Interop.TryUnlinkatRaw(frame.Directory, nameZ, 0);
                    if (errno is not (0 or Errno.ENOENT))
                    {
                        throw new SyscallException("unlinkat", errno, DescribePath(nameZ));
                    }

                    return;
                case Errno.EMFILE or Errno.ENFILE:
                    throw new TreeRemovalException(
                        $"cannot remove {DescribePath(nameZ)}: the tree is {_stack.Count} directories deep and every level holds a descriptor ({Errno.Describe(errno)}); raise the open-files limit (ulimit -n) and retry");
                default:
                    throw new SyscallException("openat", errno, DescribePath(nameZ));
            }

            var identity = Interop.TryMountIdentity(child, out var childIdentity);
            if (identity != 0 || !childIdentity.SameMount(rootIdentity))
            {
                child.Dispose();
                throw identity != 0
                    ? new SyscallException("statx", identity, DescribePath(nameZ))
                    : new TreeRemovalException($"refusing to remove {DescribePath(nameZ)}: another filesystem is mounted there (unmount it first); {rootPath} was left partly removed");
            }

            _stack.Add(new Frame(child, nameZ));
        }

        /// <summary>rmdir of a directory whose listing ended, through its parent's descriptor.</summary>
        private void RemoveEmptied(Frame frame)
        {
            var parentDirectory = _stack.Count > 1 ? _stack[^2].Directory : parent;
            var errno = Interop.TryUnlinkatRaw(parentDirectory, frame.NameZ, Interop.AT_REMOVEDIR);
            if (errno == Errno.ENOTEMPTY && frame.Rescans < MaxRescans)
            {
                frame.Rescans++;
                var rewind = Interop.TryRewind(frame.Directory);
                if (rewind != 0)
                {
                    throw new SyscallException("lseek", rewind, DescribePath(null));
                }

                return;
            }

            if (errno is not (0 or Errno.ENOENT))
            {
                throw new SyscallException("unlinkat", errno, DescribePath(null));
            }

            frame.Directory.Dispose();
            _stack.RemoveAt(_stack.Count - 1);
        }

        /// <summary>The path of the top directory (and of <paramref name="nameZ"/> in it), shortened in the middle when deep.</summary>
        private string DescribePath(ReadOnlySpan<byte> nameZ)
        {
            var builder = new StringBuilder(rootPath);
            for (var i = 1; i < _stack.Count; i++)
            {
                builder.Append('/').Append(PrintableName(_stack[i].NameZ));
            }

            if (!nameZ.IsEmpty)
            {
                builder.Append('/').Append(PrintableName(nameZ));
            }

            const int Keep = 160;
            return builder.Length <= 2 * Keep ? builder.ToString() : $"{builder.ToString(0, Keep)}...{builder.ToString(builder.Length - Keep, Keep)} ({_stack.Count} levels deep)";
        }

        /// <summary>A NUL-terminated name from the walk, as text.</summary>
        private static string PrintableName(ReadOnlySpan<byte> nameZ) => FileNameText.Printable(nameZ[^1] == 0 ? nameZ[..^1] : nameZ);
    }

    /// <summary>AT_FDCWD as a handle, for the one path-relative open of the parent.</summary>
    private sealed class AtCwd : SafeHandle
    {
        public static readonly AtCwd Instance = new();

        private AtCwd()
            : base(-100, ownsHandle: false)
        {
        }

        public override bool IsInvalid => false;

        protected override bool ReleaseHandle() => true;
    }
}

/// <summary>A removal that stopped on purpose (a mount point in the tree, too deep for the descriptor limit).</summary>
public sealed class TreeRemovalException(string message) : IOException(message);
