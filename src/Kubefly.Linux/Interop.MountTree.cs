using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

public static partial class Interop
{
    public const uint OPEN_TREE_CLONE = 0x1;
    public const uint OPEN_TREE_CLOEXEC = 0x80000;
    public const uint AT_RECURSIVE = 0x8000;
    public const uint MOVE_MOUNT_F_EMPTY_PATH = 0x4;
    public const uint MOVE_MOUNT_T_EMPTY_PATH = 0x40;

    [LibraryImport(Libc, EntryPoint = "open_tree", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenTreeNative(int directory, string path, uint flags);

    [LibraryImport(Libc, EntryPoint = "move_mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MoveMountNative(SafeFileHandle from, string fromPath, SafeFileHandle to, string toPath, uint flags);

    /// <summary>
    /// open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount at <paramref name="path"/> (and of
    /// its submounts when <paramref name="recursive"/>). The copy keeps the source mount's propagation: a
    /// clone of a shared mount is a peer of it, a clone of a slave is a slave of the same master.
    /// </summary>
    public static SafeFileHandle CloneMountTree(string path, bool recursive)
    {
        var fd = OpenTreeNative(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
        if (fd < 0)
        {
            throw SyscallException.FromLastError("open_tree", $"{path} (clone{(recursive ? ", recursive" : string.Empty)})");
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>move_mount(2): attaches a detached tree from <see cref="CloneMountTree"/> onto the target descriptor.</summary>
    public static void AttachMountTree(SafeFileHandle tree, SafeFileHandle target, string describedTarget)
    {
        if (MoveMountNative(tree, string.Empty, target, string.Empty, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
        {
            throw SyscallException.FromLastError("move_mount", $"cloned tree onto {describedTarget}");
        }
    }
}
