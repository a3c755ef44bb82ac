using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "getpid")]
    private static partial int GetpidNative();

    public static int GetProcessId() => GetpidNative();
}
