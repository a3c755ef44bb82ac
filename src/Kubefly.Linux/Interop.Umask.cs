using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "umask")]
    private static partial uint UmaskNative(uint mask);

    [LibraryImport(Libc, EntryPoint = "geteuid")]
    private static partial uint GeteuidNative();

    /// <summary>umask(2): sets the file creation mask and returns the previous one.</summary>
    public static uint SetFileCreationMask(uint mask) => UmaskNative(mask);

    public static uint GetEffectiveUserId() => GeteuidNative();
}
