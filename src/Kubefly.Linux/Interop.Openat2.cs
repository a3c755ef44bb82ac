using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

public static partial class Interop
{
    public const int AT_FDCWD = -100;

    /// <summary>Resolve as if the dirfd were the root: "..", absolute paths and absolute symlinks stay inside.</summary>
    public const ulong RESOLVE_IN_ROOT = 0x10;

    /// <summary>Refuse /proc/self/fd-style magic links.</summary>
    public const ulong RESOLVE_NO_MAGICLINKS = 0x02;

    /// <summary>Refuse any symlink in the path.</summary>
    public const ulong RESOLVE_NO_SYMLINKS = 0x04;

    /// <summary>Refuse crossing into another mount.</summary>
    public const ulong RESOLVE_NO_XDEV = 0x01;

    /// <summary>Refuse ".." or symlinks leading outside the dirfd (error instead of clamping).</summary>
    public const ulong RESOLVE_BENEATH = 0x08;

    private const long SYS_openat2 = 437;
    private const int MaxOpenat2Attempts = 1000;

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport(Libc, EntryPoint = "syscall", SetLastError = true)]
    private static unsafe partial long Syscall4(long number, int dirfd, byte* path, OpenHow* how, nuint size);

    /// <summary>
    /// openat2(2) relative to <paramref name="root"/> with the given RESOLVE_* flags (O_CLOEXEC added).
    /// With RESOLVE_IN_ROOT nothing resolves outside root, whatever the path or the symlinks in it say.
    /// Returns the errno instead of throwing, for callers that react to ENOENT/EEXIST.
    /// </summary>
    public static unsafe int TryOpenat2(SafeHandle root, string path, int flags, uint mode, ulong resolve, out SafeFileHandle handle)
    {
        handle = new SafeFileHandle();
        var how = new OpenHow { Flags = (ulong)(flags | O_CLOEXEC), Mode = mode, Resolve = resolve };
        var bytes = Utf8Z(path);
        var addRef = false;
        try
        {
            root.DangerousAddRef(ref addRef);
            var dirfd = (int)root.DangerousGetHandle();
            long fd;
            fixed (byte* p = bytes)
            {
                // EAGAIN: a rename or mount anywhere on the system raced a ".." step of a RESOLVE_IN_ROOT
                // lookup (openat2(2)); the kernel's answer is to try again.
                var attempts = 0;
                do
                {
                    fd = Syscall4(SYS_openat2, dirfd, p, &how, (nuint)sizeof(OpenHow));
                }
                while (fd < 0 && Marshal.GetLastPInvokeError() is var errno && (errno == Errno.EINTR || (errno == Errno.EAGAIN && ++attempts < MaxOpenat2Attempts)));
            }

            if (fd < 0)
            {
                return Marshal.GetLastPInvokeError();
            }

            handle = new SafeFileHandle((nint)fd, ownsHandle: true);
            return 0;
        }
        finally
        {
            if (addRef)
            {
                root.DangerousRelease();
            }
        }
    }

    /// <summary>openat2 that throws a <see cref="SyscallException"/> naming the path on failure.</summary>
    public static SafeFileHandle Openat2(SafeHandle root, string path, int flags, uint mode, ulong resolve, string? rootForErrors = null)
    {
        var errno = TryOpenat2(root, path, flags, mode, resolve, out var handle);
        if (errno != 0)
        {
            throw new SyscallException("openat2", errno, rootForErrors is null ? path : $"{path} (in {rootForErrors})");
        }

        return handle;
    }

    /// <summary>Opens a directory to serve as the anchor of RESOLVE_IN_ROOT lookups.</summary>
    public static SafeFileHandle OpenDirectory(string path) => Open(path, O_RDONLY | O_DIRECTORY);

    internal static byte[] Utf8Z(string s)
    {
        var bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(s) + 1];
        System.Text.Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }
}

/// <summary>AT_FDCWD as a handle, for openat2 calls on ordinary paths.</summary>
public static class AtCwd
{
    public static SafeFileHandle Handle { get; } = new(Interop.AT_FDCWD, ownsHandle: false);
}
