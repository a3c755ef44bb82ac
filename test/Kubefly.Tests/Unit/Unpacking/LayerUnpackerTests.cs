using System.Formats.Tar;
using System.Text;
using Kubefly.Images.Unpacking;
using Kubefly.Linux;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Unit.Unpacking;

/// <summary>Each entry kind and each whiteout rule, in both modes, checked on the real filesystem.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Requires", "root")]
public class LayerUnpackerTests
{
    private static readonly DateTimeOffset Stamp = new DateTimeOffset(2021, 6, 7, 8, 9, 10, TimeSpan.Zero).AddTicks(1234567);

    public static TheoryData<UnpackMode> Modes => [UnpackMode.OverlayLayer, UnpackMode.Apply];

    [Theory]
    [MemberData(nameof(Modes))]
    public void RegularFileGetsContentModeOwnerTimeAndXattrs(UnpackMode mode)
    {
        using var sandbox = new UnpackSandbox();
        var content = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("payload ", 50_000)));
        var xattrs = new Dictionary<string, string> { ["user.x"] = "one", ["trusted.kubefly"] = "two" };
        sandbox.Unpack(new TarBuilder().File("bin/tool", content, mode: 0b100_111_101_101, uid: 1234, gid: 5678, mtime: Stamp, xattrs: xattrs).Build(), mode);

        var path = sandbox.InRoot("bin/tool");
        var status = Interop.Lstat(path);
        Assert.True(status.IsRegularFile);
        Assert.Equal("4755", Convert.ToString(status.Permissions, 8));
        Assert.Equal((1234u, 5678u), (status.Uid, status.Gid));
        Assert.Equal(Stamp.ToUnixTimeSeconds(), status.ModifySeconds);
        Assert.Equal(123_456_700u, status.ModifyNanoseconds);
        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Equal("one"u8.ToArray(), Interop.GetXattrNoFollow(path, "user.x"));
        Assert.Equal("two"u8.ToArray(), Interop.GetXattrNoFollow(path, "trusted.kubefly"));

        // Implicit parent: created 0755 root-owned.
        var parent = Interop.Lstat(sandbox.InRoot("bin"));
        Assert.Equal(("755", 0u), (Convert.ToString(parent.Permissions, 8), parent.Uid));
    }

    [Fact]
    public void SecurityCapabilityIsSetAfterOwnerAndContent()
    {
        using var sandbox = new UnpackSandbox();

        // VFS_CAP_REVISION_2 with cap_net_raw permitted+effective, as setcap writes it.
        byte[] capability = [0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        var value = Encoding.UTF8.GetString(capability);
        sandbox.Unpack(new TarBuilder().File("ping", "binary", mode: 0b111_101_101, uid: 0, gid: 0, xattrs: new Dictionary<string, string> { ["security.capability"] = value }).Build(), UnpackMode.Apply);
        Assert.Equal(capability, Interop.GetXattrNoFollow(sandbox.InRoot("ping"), "security.capability"));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void BinaryXattrValuesComeFromTheRawPaxHeader(UnpackMode mode)
    {
        using var sandbox = new UnpackSandbox();

        // cap_setuid (bit 7) makes a 0x80 byte, which is not UTF-8: newuidmap carries exactly this.
        byte[] capability = [0x01, 0x00, 0x00, 0x02, 0xc0, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        byte[] binary = [0xff, 0xfe, 0x00, 0x80, 0x41];
        var warnings = new List<string>();
        var tar = new TarBuilder()
            .File("first", new byte[700])
            .Raw([.. TarBuilder.RawPaxHeaderBytes([("SCHILY.xattr.security.capability", capability), ("SCHILY.xattr.user.blob", binary), ("mtime", "1600000000.5"u8.ToArray())]),
                .. TarBuilder.RawEntry("usr/bin/newuidmap", '0', data: "binary"u8.ToArray(), mode: 0b111_101_101)])
            .Fifo("after")
            .Build();
        sandbox.Unpack(tar, mode, warnings: warnings);

        Assert.Equal(capability, Interop.GetXattrNoFollow(sandbox.InRoot("usr/bin/newuidmap"), "security.capability"));
        Assert.Equal(binary, Interop.GetXattrNoFollow(sandbox.InRoot("usr/bin/newuidmap"), "user.blob"));
        Assert.Equal(1600000000, Interop.Lstat(sandbox.InRoot("usr/bin/newuidmap")).ModifySeconds);
        Assert.Empty(warnings);
    }

    /// <summary>
    /// A PAX record is length-prefixed, so its value may hold 0x0A, the byte that ends a record: the raw
    /// reader (RawPaxXattrs) must count, never split at newlines (cap_net_bind_service and cap_kill give 0x0a...).
    /// </summary>
    [Theory]
    [MemberData(nameof(Modes))]
    public void AnXattrValueHoldingANewlineKeepsEveryByte(UnpackMode mode)
    {
        using var sandbox = new UnpackSandbox();
        byte[] capability = [0x01, 0x00, 0x00, 0x02, 0x0a, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        byte[] withNewlines = [0x0a, 0x31, 0x30, 0x20, 0x6d, 0x74, 0x69, 0x6d, 0x65, 0x3d, 0x31, 0x0a, 0x80];
        var tar = new TarBuilder()
            .Raw([.. TarBuilder.RawPaxHeaderBytes([("SCHILY.xattr.security.capability", capability), ("SCHILY.xattr.user.lines", withNewlines)]),
                .. TarBuilder.RawEntry("usr/bin/binder", '0', data: "binary"u8.ToArray(), mode: 0b111_101_101)])
            .File("after", "next entry, found where the record lengths say")
            .Build();
        sandbox.Unpack(tar, mode);

        Assert.Equal(capability, Interop.GetXattrNoFollow(sandbox.InRoot("usr/bin/binder"), "security.capability"));
        Assert.Equal(withNewlines, Interop.GetXattrNoFollow(sandbox.InRoot("usr/bin/binder"), "user.lines"));
        Assert.Equal("next entry, found where the record lengths say", File.ReadAllText(sandbox.InRoot("after")));
    }

    [Fact]
    public void XattrsOutsideTheAllowedNamespacesAreDroppedWithAWarning()
    {
        using var sandbox = new UnpackSandbox();
        var warnings = new List<string>();
        sandbox.Unpack(new TarBuilder().File("f", "x", xattrs: new Dictionary<string, string> { ["security.selinux"] = "system_u:object_r:bin_t:s0", ["user.kept"] = "k" }).Build(), UnpackMode.Apply, warnings: warnings);
        Assert.Null(Interop.GetXattrNoFollow(sandbox.InRoot("f"), "security.selinux"));
        Assert.Equal("k"u8.ToArray(), Interop.GetXattrNoFollow(sandbox.InRoot("f"), "user.kept"));
        Assert.Contains(warnings, w => w.Contains("security.selinux", StringComparison.Ordinal) && w.Contains(sandbox.Description, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void DirectoryTimesAreSetAfterTheirChildren(UnpackMode mode)
    {
        using var sandbox = new UnpackSandbox();
        sandbox.Unpack(new TarBuilder()
            .Dir("d", mode: 0b001_111_111_111, uid: 10, gid: 20, mtime: Stamp, xattrs: new Dictionary<string, string> { ["user.dir"] = "yes" })
            .File("d/child", "c")
            .Dir("d/sub", mtime: Stamp)
            .File("d/sub/grandchild", "g")
            .Build(), mode);

        var status = Interop.Lstat(sandbox.InRoot("d"));
        Assert.Equal(("1777", 10u, 20u), (Convert.ToString(status.Permissions, 8), status.Uid, status.Gid));
        Assert.Equal((Stamp.ToUnixTimeSeconds(), 123_456_700u), (status.ModifySeconds, status.ModifyNanoseconds));
        Assert.Equal(Stamp.ToUnixTimeSeconds(), Interop.Lstat(sandbox.InRoot("d/sub")).ModifySeconds);
        Assert.Equal("yes"u8.ToArray(), Interop.GetXattrNoFollow(sandbox.InRoot("d"), "user.dir"));
    }

    [Fact]
    public void DirectoryOverExistingDirectoryUpdatesAttributesAndKeepsChildren()
    {
        using var sandbox = new UnpackSandbox();
        sandbox.Unpack(new TarBuilder().Dir("d").File("d/lower", "lower").Build(), UnpackMode.Apply);
        sandbox.Unpack(new TarBuilder().Dir("d", mode: 0b111_000_000, uid: 7, gid: 8).Build(), UnpackMode.Apply);
        var status = Interop.Lstat(sandbox.InRoot("d"));
        Assert.Equal(("700", 7u, 8u), (Convert.ToString(status.Permissions, 8), status.Uid, status.Gid));
        Assert.Equal("lower", File.ReadAllText(sandbox.InRoot("d/lower")));
    }

    [Fact]
    public void NonDirectoryReplacesAWholeDirectoryTree()
    {
        using var sandbox = new UnpackSandbox();
        sandbox.Unpack(new TarBuilder().Dir("d/sub").File("d/sub/x", "x").Symlink("d/link", "/").Build(), UnpackMode.Apply);
        sandbox.Unpack(new TarBuilder().File("d", "now a file").Build(), UnpackMode.Apply);
        Assert.Equal("now a file", File.ReadAllText(sandbox.InRoot("d")));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void SymlinkKeepsItsTargetOwnerAndTime(UnpackMode mode)
    {
        using var sandbox = new UnpackSandbox();
        sandbox.Unpack(new TarBuilder().Symlink("usr/lib/libc.so", "/nonexistent/../lib/libc.so.6", uid: 1234, gid: 5678, mtime: Stamp).Build(), mode);
        var path = sandbox.InRoot("usr/lib/libc.so");
        var status = Interop.Lstat(path);
        Assert.True(status.IsSymbolicLink);
        Assert.Equal("/nonexistent/../lib/libc.so.6", new FileInfo(path).LinkTarget);
        Assert.Equal((1234u, 5678u), (status.Uid, status.Gid));
        Assert.Equal(Stamp.ToUnixTimeSeconds(), status.ModifySeconds);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void HardlinksShareTheInodeOfAFileFromTheSameLayer(UnpackMode mode)
    {
        using var sandbox = new UnpackSandbox();
        var statistics = sandbox.Unpack(new TarBuilder()
            .File("bin/busybox", "bb", mode: 0b111_101_101)
            .Hardlink("bin/sh", "bin/busybox")
            .Hardlink("/usr/bin/env", "./bin/sh")
            .Build(), mode);

        var original = Interop.Lstat(sandbox.InRoot("bin/busybox"));
        Assert.Equal(original.Inode, Interop.Lstat(sandbox.InRoot("bin/sh")).Inode);
        Assert.Equal(original.Inode, Interop.Lstat(sandbox.InRoot("usr/bin/env")).Inode);
        Assert.Equal(3u, Interop.Lstat(sandbox.InRoot("bin/busybox")).LinkCount);
        Assert.Equal(2, statistics.Hardlinks);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void DevicesAndFifosGetNumbersModesAndOwners(UnpackMode mode)
    {
        using var sandbox = new UnpackSandbox();
        sandbox.Unpack(new TarBuilder()
            .CharDevice("dev/null", 1, 3, mode: 0b110_110_110)
            .CharDevice("dev/bigminor", 300, 70000, mode: 0b110_000_000, uid: 5, gid: 6)
            .BlockDevice("dev/sda", 8, 0)
            .Fifo("run/pipe", mode: 0b010_110_100_000, uid: 33, gid: 44)
            .Build(), mode);

        var devNull = Interop.Lstat(sandbox.InRoot("dev/null"));
        Assert.Equal((Interop.S_IFCHR, 1u, 3u, "666"), (devNull.FileType, devNull.RdevMajor, devNull.RdevMinor, Convert.ToString(devNull.Permissions, 8)));
        var big = Interop.Lstat(sandbox.InRoot("dev/bigminor"));
        Assert.Equal((300u, 70000u, 5u, 6u), (big.RdevMajor, big.RdevMinor, big.Uid, big.Gid));
        var sda = Interop.Lstat(sandbox.InRoot("dev/sda"));
        Assert.Equal((Interop.S_IFBLK, 8u, 0u), (sda.FileType, sda.RdevMajor, sda.RdevMinor));
        var pipe = Interop.Lstat(sandbox.InRoot("run/pipe"));
        Assert.Equal((Interop.S_IFIFO, "2640", 33u, 44u), (pipe.FileType, Convert.ToString(pipe.Permissions, 8), pipe.Uid, pipe.Gid));
    }

    [Fact]
    public void RootEntrySetsTheRootsOwnAttributes()
    {
        using var sandbox = new UnpackSandbox();
        sandbox.Unpack(new TarBuilder().Dir("./", mode: 0b111_101_000, uid: 3, gid: 4, mtime: Stamp).File("f", "x").Build(), UnpackMode.OverlayLayer);
        var status = Interop.Lstat(sandbox.Root);
        Assert.Equal(("750", 3u, 4u, Stamp.ToUnixTimeSeconds()), (Convert.ToString(status.Permissions, 8), status.Uid, status.Gid, status.ModifySeconds));
    }

    [Fact]
    public void NumericIdsWinOverNames()
    {
        using var sandbox = new UnpackSandbox();
        var stream = new MemoryStream();
        using (var writer = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "owned") { Uid = 1234, Gid = 5678, UserName = "root", GroupName = "root", Mode = (UnixFileMode)0b110_100_100 });
        }

        sandbox.Unpack(stream.ToArray(), UnpackMode.Apply);
        var status = Interop.Lstat(sandbox.InRoot("owned"));
        Assert.Equal((1234u, 5678u), (status.Uid, status.Gid));
    }

    [Fact]
    public void OverlayWhiteoutBecomesCharacterDeviceZeroZero()
    {
        using var sandbox = new UnpackSandbox();
        var statistics = sandbox.Unpack(new TarBuilder().Dir("etc").Whiteout("etc/.wh.passwd").Whiteout(".wh.gone-dir").Build(), UnpackMode.OverlayLayer);
        foreach (var path in new[] { "etc/passwd", "gone-dir" })
        {
            var status = Interop.Lstat(sandbox.InRoot(path));
            Assert.Equal((Interop.S_IFCHR, 0u, 0u), (status.FileType, status.RdevMajor, status.RdevMinor));
        }

        Assert.False(Path.Exists(sandbox.InRoot("etc/.wh.passwd")));
        Assert.Equal(2, statistics.Whiteouts);
    }

    [Fact]
    public void OverlayOpaqueMarkerSetsTheXattrWhateverItsPosition()
    {
        using var sandbox = new UnpackSandbox();
        sandbox.Unpack(new TarBuilder()
            .Dir("before").Whiteout("before/.wh..wh..opq").File("before/kept", "k")
            .Whiteout("after/.wh..wh..opq").Dir("after", mode: 0b111_000_000)
            .Build(), UnpackMode.OverlayLayer);

        Assert.Equal("y"u8.ToArray(), Interop.GetXattrNoFollow(sandbox.InRoot("before"), "trusted.overlay.opaque"));
        Assert.Equal("y"u8.ToArray(), Interop.GetXattrNoFollow(sandbox.InRoot("after"), "trusted.overlay.opaque"));
        Assert.Equal("700", Convert.ToString(Interop.Lstat(sandbox.InRoot("after")).Permissions, 8));
        Assert.False(Path.Exists(sandbox.InRoot("before/.wh..wh..opq")));
        Assert.Equal("k", File.ReadAllText(sandbox.InRoot("before/kept")));
    }

    [Fact]
    public void OverlayWhiteoutOfAnEntryFromTheSameLayerKeepsTheEntry()
    {
        using var sandbox = new UnpackSandbox();
        sandbox.Unpack(new TarBuilder().File("both", "mine").Whiteout(".wh.both").Build(), UnpackMode.OverlayLayer);
        Assert.Equal("mine", File.ReadAllText(sandbox.InRoot("both")));
    }

    [Fact]
    public void ApplyWhiteoutDeletesLowerFilesAndWholeDirectories()
    {
        using var sandbox = new UnpackSandbox();
        sandbox.Unpack(new TarBuilder().File("etc/passwd", "p").File("etc/group", "g").Dir("var/cache/deep/er").File("var/cache/deep/er/x", "x").Build(), UnpackMode.Apply);
        var statistics = sandbox.Unpack(new TarBuilder().Whiteout("etc/.wh.passwd").Whiteout("var/.wh.cache").Whiteout("nowhere/.wh.nothing").Build(), UnpackMode.Apply);

        Assert.False(Path.Exists(sandbox.InRoot("etc/passwd")));
        Assert.True(File.Exists(sandbox.InRoot("etc/group")));
        Assert.False(Path.Exists(sandbox.InRoot("var/cache")));
        Assert.True(Directory.Exists(sandbox.InRoot("var")));
        Assert.False(Path.Exists(sandbox.InRoot("nowhere")));
        Assert.Equal(3, statistics.Whiteouts);
    }

    [Fact]
    public void ApplyWhiteoutKeepsWhatTheSameLayerCreated()
    {
        using var sandbox = new UnpackSandbox();
        sandbox.Unpack(new TarBuilder().File("f", "lower").Build(), UnpackMode.Apply);
        sandbox.Unpack(new TarBuilder().File("f", "upper").Whiteout(".wh.f").Build(), UnpackMode.Apply);
        Assert.Equal("upper", File.ReadAllText(sandbox.InRoot("f")));
    }

    [Fact]
    public void ApplyOpaqueRemovesOnlyLowerChildrenWhateverItsPosition()
    {
        using var sandbox = new UnpackSandbox();
        sandbox.Unpack(new TarBuilder()
            .File("a/lower1", "l").Dir("a/lowerdir").File("a/lowerdir/x", "x").File("a/kept-name", "lower version")
            .File("b/lower", "l")
            .Build(), UnpackMode.Apply);

        var statistics = sandbox.Unpack(new TarBuilder()
            .Dir("a").File("a/new-before", "n").File("a/kept-name", "upper version").Whiteout("a/.wh..wh..opq").File("a/new-after", "n")
            .Whiteout("b/.wh..wh..opq")
            .Build(), UnpackMode.Apply);

        Assert.Equal(["kept-name", "new-after", "new-before"], Directory.EnumerateFileSystemEntries(sandbox.InRoot("a")).Select(Path.GetFileName).Order());
        Assert.Equal("upper version", File.ReadAllText(sandbox.InRoot("a/kept-name")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(sandbox.InRoot("b")));
        Assert.Equal(2, statistics.OpaqueDirectories);
    }

    [Fact]
    public void ApplyOpaqueAlsoClearsLowerChildrenOfRedeclaredSubdirectories()
    {
        using var sandbox = new UnpackSandbox();
        sandbox.Unpack(new TarBuilder().File("a/sub/lower", "l").Build(), UnpackMode.Apply);
        sandbox.Unpack(new TarBuilder().Dir("a").Dir("a/sub").File("a/sub/upper", "u").Whiteout("a/.wh..wh..opq").Build(), UnpackMode.Apply);
        Assert.Equal(["upper"], Directory.EnumerateFileSystemEntries(sandbox.InRoot("a/sub")).Select(Path.GetFileName));
    }

    [Fact]
    public void StatisticsCountEveryKind()
    {
        using var sandbox = new UnpackSandbox();
        var tar = new TarBuilder().Dir("d").File("d/f", "12345").Symlink("l", "d").Hardlink("h", "d/f").Fifo("p").Whiteout(".wh.x").Build();
        var statistics = sandbox.Unpack(tar, UnpackMode.OverlayLayer);
        Assert.Equal(
            new UnpackStatistics { Entries = 6, Directories = 1, RegularFiles = 1, Symlinks = 1, Hardlinks = 1, SpecialFiles = 1, Whiteouts = 1, ContentBytes = 5, TarBytes = statistics.TarBytes },
            statistics);
        Assert.True(statistics.TarBytes > 0 && statistics.TarBytes <= tar.Length);
    }

    [Fact]
    public void UnpackingStopsAtTheEndMarkerSoTheCallerCanDrainTheRest()
    {
        using var sandbox = new UnpackSandbox();
        var tar = new TarBuilder().File("f", "x").Build();
        var trailing = new byte[10_000];
        using var stream = new MemoryStream([.. tar, .. trailing]);
        var statistics = new LayerUnpacker(UnpackMode.Apply, UnpackLimits.Default).Unpack(stream, sandbox.Root, "layer", CancellationToken.None);
        Assert.True(stream.Length - stream.Position >= trailing.Length, $"the unpacker read {stream.Position} of {stream.Length} bytes");
        Assert.Equal(stream.Position, statistics.TarBytes);
    }

    [Fact]
    public void CancellationStopsTheUnpack()
    {
        using var sandbox = new UnpackSandbox();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var unpacker = new LayerUnpacker(UnpackMode.Apply, UnpackLimits.Default);
        Assert.ThrowsAny<OperationCanceledException>(() =>
            unpacker.Unpack(new MemoryStream(new TarBuilder().File("f").Build()), sandbox.Root, "layer", cancelled.Token));
    }

    [Fact]
    public void MissingRootDirectoryFailsWithTheLayerNamed()
    {
        var unpacker = new LayerUnpacker(UnpackMode.Apply, UnpackLimits.Default);
        var error = Assert.Throws<LayerException>(() =>
            unpacker.Unpack(new MemoryStream(new TarBuilder().File("f").Build()), "/nonexistent/kubefly-root", "sha256:abc", CancellationToken.None));
        Assert.Contains("sha256:abc", error.Message);
    }

    [Fact]
    public void SyncFilesystemFlushesTheRootsFilesystem()
    {
        using var sandbox = new UnpackSandbox();
        LayerUnpacker.SyncFilesystem(sandbox.Root);
        Assert.Throws<SyscallException>(() => LayerUnpacker.SyncFilesystem(Path.Combine(sandbox.Root, "missing")));
    }

    [Theory]
    [InlineData(LayerCompression.None, LayerCompression.None)]
    [InlineData(LayerCompression.Gzip, LayerCompression.Gzip)]
    [InlineData(LayerCompression.Zstd, LayerCompression.Zstd)]
    [InlineData(LayerCompression.Gzip, LayerCompression.None)]
    [InlineData(LayerCompression.None, LayerCompression.Gzip)]
    [InlineData(LayerCompression.Zstd, LayerCompression.Gzip)]
    public void DecompressionFollowsTheMagicBytesNotTheLabel(LayerCompression actual, LayerCompression declared)
    {
        using var sandbox = new UnpackSandbox();
        var tar = new TarBuilder().File("hello", "world").Build();
        var blob = actual switch
        {
            LayerCompression.Gzip => TarBuilder.Gzip(tar),
            LayerCompression.Zstd => TarBuilder.Zstd(tar),
            _ => tar,
        };
        sandbox.Unpack(blob, UnpackMode.Apply, compression: declared);
        Assert.Equal("world", File.ReadAllText(sandbox.InRoot("hello")));

        using var decompressed = LayerDecompression.Open(new MemoryStream(blob), declared, "layer");
        var all = new MemoryStream();
        decompressed.CopyTo(all);
        Assert.Equal(tar, all.ToArray());
    }

    [Fact]
    public void EmptyBlobDecompressesToNothing()
    {
        using var decompressed = LayerDecompression.Open(new MemoryStream([]), LayerCompression.Gzip, "layer");
        Assert.Equal(0, decompressed.Read(new byte[16]));
    }
}
