using System.Runtime.InteropServices;

namespace Kubefly.Linux;

public static partial class Interop
{
    public const ulong MS_RDONLY = 0x1;
    public const ulong MS_NOSUID = 0x2;
    public const ulong MS_NODEV = 0x4;
    public const ulong MS_NOEXEC = 0x8;
    public const ulong MS_REMOUNT = 0x20;
    public const ulong MS_BIND = 0x1000;
    public const ulong MS_MOVE = 0x2000;
    public const ulong MS_REC = 0x4000;
    public const ulong MS_PRIVATE = 0x40000;
    public const ulong MS_SLAVE = 0x80000;
    public const ulong MS_SHARED = 0x100000;
    public const ulong MS_UNBINDABLE = 0x20000;

    public const int MNT_DETACH = 0x2;
    public const int UMOUNT_NOFOLLOW = 0x8;

    [LibraryImport(Libc, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MountNative(string? source, string target, string? fileSystemType, ulong flags, string? data);

    [LibraryImport(Libc, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2Native(string target, int flags);

    /// <summary>mount(2); a failure names the operation, source, target, type and flags.</summary>
    public static void Mount(string? source, string target, string? fileSystemType, ulong flags, string? data = null)
    {
        if (MountNative(source, target, fileSystemType, flags, data) != 0)
        {
            throw SyscallException.FromLastError("mount", $"{source ?? "none"} on {target} (type {fileSystemType ?? "none"}, flags {DescribeMountFlags(flags)}{(data is null ? string.Empty : ", data " + data)})");
        }
    }

    public static void Unmount(string target, int flags)
    {
        if (Umount2Native(target, flags) != 0)
        {
            throw SyscallException.FromLastError("umount2", target);
        }
    }

    public static string DescribeMountFlags(ulong flags)
    {
        var names = new List<string>();
        foreach (var (bit, name) in new[]
        {
            (MS_RDONLY, "MS_RDONLY"), (MS_NOSUID, "MS_NOSUID"), (MS_NODEV, "MS_NODEV"), (MS_NOEXEC, "MS_NOEXEC"),
            (MS_REMOUNT, "MS_REMOUNT"), (MS_BIND, "MS_BIND"), (MS_MOVE, "MS_MOVE"), (MS_REC, "MS_REC"),
            (MS_PRIVATE, "MS_PRIVATE"), (MS_SLAVE, "MS_SLAVE"), (MS_SHARED, "MS_SHARED"), (MS_UNBINDABLE, "MS_UNBINDABLE"),
        })
        {
            if ((flags & bit) != 0)
            {
                names.Add(name);
            }
        }

        return names.Count == 0 ? "0" : string.Join('|', names);
    }
}
