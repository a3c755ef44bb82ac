using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    [LibraryImport(Libc, EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LchownNative(string path, int owner, int group);

    /// <summary>lchown(2): never follows a final symlink.</summary>
    public static void Lchown(string path, int uid, int gid)
    {
        if (LchownNative(path, uid, gid) != 0)
        {
            throw SyscallException.FromLastError("lchown", $"{path} to {uid}:{gid}");
        }
    }

    [LibraryImport(Libc, EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ChangeOwnerNative(string path, uint owner, uint group);

    /// <summary>chown(2), following symlinks like chown(1) does on a named path.</summary>
    public static void ChangeOwner(string path, uint owner, uint group)
    {
        if (ChangeOwnerNative(path, owner, group) != 0)
        {
            throw SyscallException.FromLastError("chown", $"{path} to {owner}:{group}");
        }
    }
}
