using System.Runtime.InteropServices;

namespace Kubefly.Linux;

// Which mount an open descriptor lies on: statx's STATX_MNT_ID (Linux 5.8+) beside the device number.
// The device alone misses a bind mount of the same filesystem; the mount id catches it.
public static partial class Interop
{
    private const uint STATX_TYPE = 0x1;
    private const uint STATX_MNT_ID = 0x1000;

    [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true)]
    private static unsafe partial int StatxMountNative(SafeHandle dirfd, byte* path, int flags, uint mask, byte* buffer);

    /// <summary>The file type, device and mount id of an open descriptor (mount id 0 when the kernel does not report it).</summary>
    public static unsafe int TryMountIdentity(SafeHandle fd, out MountIdentity identity)
    {
        var buffer = stackalloc byte[256];
        byte empty = 0;
        if (StatxMountNative(fd, &empty, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MNT_ID, buffer) != 0)
        {
            identity = default;
            return Marshal.GetLastPInvokeError();
        }

        // struct statx: stx_mask at 0, stx_mode at 28, stx_dev_major/minor at 136/140, stx_mnt_id at 144.
        var mask = *(uint*)buffer;
        var mode = *(ushort*)(buffer + 28);
        var device = ((ulong)*(uint*)(buffer + 136) << 32) | *(uint*)(buffer + 140);
        var mountId = (mask & STATX_MNT_ID) != 0 ? *(ulong*)(buffer + 144) : 0;
        identity = new MountIdentity(mode & S_IFMT, device, mountId);
        return 0;
    }

    /// <summary>Where a file lies: its type, its filesystem's device and its mount.</summary>
    public readonly record struct MountIdentity(uint FileType, ulong Device, ulong MountId)
    {
        public bool IsDirectory => FileType == S_IFDIR;

        /// <summary>On the same mount as <paramref name="other"/> (the device alone when the kernel gives no mount id).</summary>
        public bool SameMount(MountIdentity other) => Device == other.Device && MountId == other.MountId;
    }
}
