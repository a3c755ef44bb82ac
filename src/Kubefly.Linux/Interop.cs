namespace Kubefly.Linux;

/// <summary>
/// Every native call kubefly makes. One concern per file (Interop.Flock.cs, Interop.Mount.cs, ...),
/// each a [LibraryImport(Libc, SetLastError = true)] wrapped by a small named function that throws
/// <see cref="SyscallException"/> with context. The executable binds libc statically
/// (DirectPInvoke), so no call ever probes the filesystem for a libc, even after chroot.
/// </summary>
public static partial class Interop
{
    internal const string Libc = "libc";
}
