using System.Globalization;
using Kubefly.Linux;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Fly;

/// <summary>
/// A rootfs held by a descriptor; every path is resolved by openat2 with RESOLVE_IN_ROOT, so "..",
/// absolute paths and symlinks (absolute or relative) never lead outside it. Missing directories and
/// files are created one component at a time relative to an in-root parent descriptor, following a
/// dangling symlink by splicing its text (still resolved in-root), never by letting the kernel follow it.
/// </summary>
internal sealed class RootDirectory : IDisposable
{
    private const ulong InRoot = Interop.RESOLVE_IN_ROOT | Interop.RESOLVE_NO_MAGICLINKS;
    private const int MaxSymlinkSplices = 40;

    /// <summary>The largest /etc/passwd or /etc/group we read.</summary>
    public const long MaxDatabaseFileSize = 4 << 20;

    private RootDirectory(SafeFileHandle handle, string hostPath)
    {
        Handle = handle;
        HostPath = hostPath;
    }

    public SafeFileHandle Handle { get; }

    /// <summary>Where the rootfs is on the host, for messages only.</summary>
    public string HostPath { get; }

    public static RootDirectory Open(string hostPath) =>
        new(Interop.Open(hostPath, Interop.O_PATH | Interop.O_DIRECTORY), hostPath);

    public static RootDirectory Adopt(SafeFileHandle handle, string description) => new(handle, description);

    /// <summary>"/proc/self/fd/N": the path the kernel maps to exactly this descriptor's file.</summary>
    public static string ProcPath(SafeFileHandle fd) => "/proc/self/fd/" + fd.DangerousGetHandle().ToInt32().ToString(CultureInfo.InvariantCulture);

    /// <summary>Opens <paramref name="path"/> in-root (a final symlink is followed, in-root).</summary>
    public int TryOpen(string path, int flags, out SafeFileHandle handle) =>
        Interop.TryOpenat2(Handle, path, flags, 0, InRoot, out handle);

    public SafeFileHandle Open(string path, int flags)
    {
        var errno = TryOpen(path, flags, out var handle);
        return errno == 0 ? handle : throw new FlyException($"openat2 {path} in {HostPath} (RESOLVE_IN_ROOT): {Errno.Describe(errno)}");
    }

    /// <summary>
    /// An O_PATH descriptor of <paramref name="path"/>, creating what is missing: directories for every
    /// intermediate component, and the last one as a directory or an empty file (mode 0644).
    /// </summary>
    public SafeFileHandle OpenOrCreate(string path, bool directory)
    {
        var current = path;
        var splices = 0;
        var rounds = 0;
        while (true)
        {
            if (++rounds > 4096)
            {
                throw new FlyException($"creating {path} in {HostPath}: the tree keeps changing");
            }

            var errno = TryOpen(current, Interop.O_PATH, out var existing);
            if (errno == 0)
            {
                return existing;
            }

            if (errno != Errno.ENOENT)
            {
                throw new FlyException($"openat2 {current} in {HostPath} (RESOLVE_IN_ROOT): {Errno.Describe(errno)}");
            }

            var components = current.Split('/', StringSplitOptions.RemoveEmptyEntries);
            var spliced = CreateFirstMissing(current, components, directory);
            if (spliced is not null)
            {
                if (++splices > MaxSymlinkSplices)
                {
                    throw new FlyException($"creating {path} in {HostPath}: too many levels of symbolic links");
                }

                current = spliced;
            }
        }
    }

    /// <summary>
    /// Finds the first missing component of <paramref name="path"/> and creates it; if it is a dangling
    /// symlink instead, returns the path with the link's text spliced in (to resolve again, in-root).
    /// </summary>
    private string? CreateFirstMissing(string path, string[] components, bool directory)
    {
        var parent = Open("/", Interop.O_PATH | Interop.O_DIRECTORY);
        try
        {
            for (var i = 0; i < components.Length; i++)
            {
                var prefix = "/" + string.Join('/', components[..(i + 1)]);
                var errno = TryOpen(prefix, Interop.O_PATH, out var next);
                if (errno == 0)
                {
                    parent.Dispose();
                    parent = next;
                    continue;
                }

                if (errno != Errno.ENOENT)
                {
                    throw new FlyException($"openat2 {prefix} in {HostPath} (RESOLVE_IN_ROOT): {Errno.Describe(errno)}");
                }

                var name = components[i];
                if (name is "." or "..")
                {
                    throw new FlyException($"creating {path} in {HostPath}: {prefix} does not resolve");
                }

                if (Interop.TryLstatAt(parent, name, out var status) == 0)
                {
                    if (!status.IsSymbolicLink)
                    {
                        return null; // appeared meanwhile: resolve again
                    }

                    var link = Interop.Readlinkat(parent, name, $"{prefix} in {HostPath}");
                    var rest = string.Join('/', components[(i + 1)..]);
                    var baseOfLink = link.StartsWith('/') ? link : "/" + string.Join('/', components[..i]) + "/" + link;
                    return rest.Length == 0 ? baseOfLink : baseOfLink + "/" + rest;
                }

                var last = i == components.Length - 1;
                if (!last || directory)
                {
                    errno = Interop.TryMkdirat(parent, name, 0b111_101_101);
                    if (errno != 0 && errno != Errno.EEXIST)
                    {
                        throw new FlyException($"mkdirat {prefix} in {HostPath}: {Errno.Describe(errno)}");
                    }
                }
                else
                {
                    errno = Interop.TryOpenat2(parent, name, Interop.O_CREAT | Interop.O_EXCL | Interop.O_WRONLY | Interop.O_NOFOLLOW, 0b110_100_100, Interop.RESOLVE_BENEATH | Interop.RESOLVE_NO_SYMLINKS, out var created);
                    created.Dispose();
                    if (errno != 0 && errno != Errno.EEXIST)
                    {
                        throw new FlyException($"creating file {prefix} in {HostPath}: {Errno.Describe(errno)}");
                    }
                }

                return null;
            }

            return null;
        }
        finally
        {
            parent.Dispose();
        }
    }

    /// <summary>
    /// Reads a small regular file in-root without following a final symlink and without opening
    /// anything that is not a regular file (a FIFO would block, a device could act); null if missing.
    /// </summary>
    public string? ReadSmallRegularFile(string path, long maxSize)
    {
        var errno = Interop.TryOpenat2(Handle, path, Interop.O_PATH | Interop.O_NOFOLLOW, 0, InRoot, out var handle);
        if (errno == Errno.ENOENT)
        {
            return null;
        }

        if (errno == Errno.ELOOP)
        {
            throw new FlyException($"{path} in {HostPath} is a symbolic link: refusing to follow it");
        }

        if (errno != 0)
        {
            throw new FlyException($"openat2 {path} in {HostPath} (RESOLVE_IN_ROOT, O_NOFOLLOW): {Errno.Describe(errno)}");
        }

        using (handle)
        {
            var status = Interop.Fstat(handle, $"{path} in {HostPath}");
            if (!status.IsRegularFile)
            {
                throw new FlyException($"{path} in {HostPath} is a {Interop.DescribeFileType(status)}, not a regular file");
            }

            if ((long)status.Size > maxSize)
            {
                throw new FlyException($"{path} in {HostPath} is {status.Size} bytes, more than the {maxSize} allowed");
            }

            // Reopen the very inode we checked for reading (O_PATH descriptors cannot read).
            using var readable = Interop.Open(ProcPath(handle), Interop.O_RDONLY | Interop.O_NONBLOCK | Interop.O_NOCTTY);
            // Sized by what fstat saw, plus one byte to notice growth; a growing file gets more room up to
            // the cap. (A cap-sized buffer would be a large-object allocation and a GC on every pod start.)
            var buffer = new byte[(int)status.Size + 1];
            var total = 0;
            while (true)
            {
                var n = RandomAccess.Read(readable, buffer.AsSpan(total), total);
                if (n == 0)
                {
                    break;
                }

                total += n;
                if (total == buffer.Length)
                {
                    if (total > maxSize)
                    {
                        break;
                    }

                    Array.Resize(ref buffer, (int)Math.Min(maxSize + 1, (long)buffer.Length * 2));
                }
            }

            if (total > maxSize)
            {
                throw new FlyException($"{path} in {HostPath} grew past the {maxSize} bytes allowed");
            }

            return System.Text.Encoding.UTF8.GetString(buffer, 0, total);
        }
    }

    /// <summary>
    /// Writes <paramref name="content"/> at <paramref name="path"/> in-root as a fresh regular file; an
    /// existing symlink there is replaced, not followed. Returns false when <paramref name="onlyIfMissing"/>
    /// and something already exists there.
    /// </summary>
    public bool WriteFile(string path, string content, bool onlyIfMissing)
    {
        var parentPath = Path.GetDirectoryName(path) ?? "/";
        var name = Path.GetFileName(path);
        using var parent = OpenOrCreate(parentPath, directory: true);
        var where = $"{path} in {HostPath}";
        if (Interop.TryLstatAt(parent, name, out var status) == 0)
        {
            if (onlyIfMissing)
            {
                return false;
            }

            if (status.IsDirectory)
            {
                throw new FlyException($"cannot write {where}: it is a directory");
            }

            if (!status.IsRegularFile)
            {
                var unlinked = Interop.TryUnlinkat(parent, name, 0);
                if (unlinked != 0)
                {
                    throw new FlyException($"unlinkat {where}: {Errno.Describe(unlinked)}");
                }
            }
        }

        var errno = Interop.TryOpenat2(parent, name, Interop.O_WRONLY | Interop.O_CREAT | Interop.O_TRUNC | Interop.O_NOFOLLOW | Interop.O_NONBLOCK, 0b110_100_100, Interop.RESOLVE_BENEATH | Interop.RESOLVE_NO_SYMLINKS, out var file);
        if (errno != 0)
        {
            throw new FlyException($"writing {where}: {Errno.Describe(errno)}");
        }

        using (file)
        {
            if (!Interop.Fstat(file, where).IsRegularFile)
            {
                throw new FlyException($"writing {where}: not a regular file");
            }

            RandomAccess.Write(file, System.Text.Encoding.UTF8.GetBytes(content), 0);
        }

        return true;
    }

    public void Dispose() => Handle.Dispose();
}
