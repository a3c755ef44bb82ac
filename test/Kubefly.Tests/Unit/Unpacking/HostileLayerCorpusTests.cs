using System.Text;
using Kubefly.Images.Unpacking;
using Kubefly.Linux;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Unit.Unpacking;

/// <summary>
/// Layers built to break out of the root (each has broken a real tool). Every case runs against a
/// sandbox with a sentinel tree beside the root and proves that tree byte-for-byte untouched, then
/// that the layer either failed with a <see cref="LayerException"/> naming the layer, or was confined
/// inside the root (with the case's own check of where things landed).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Requires", "root")]
public class HostileLayerCorpusTests
{
    private static readonly UnpackMode[] Both = [UnpackMode.OverlayLayer, UnpackMode.Apply];
    private static readonly UnpackMode[] ApplyOnly = [UnpackMode.Apply];

    private static readonly Dictionary<string, HostileCase> Cases = BuildCases().ToDictionary(c => c.Name);

    public static TheoryData<string, UnpackMode> CaseNames()
    {
        var data = new TheoryData<string, UnpackMode>();
        foreach (var hostile in Cases.Values)
        {
            foreach (var mode in hostile.Modes)
            {
                data.Add(hostile.Name, mode);
            }
        }

        return data;
    }

    /// <summary>
    /// The cases a fetch into a store can reproduce (no prepared root, the default limits' outcome left
    /// open), for the binary-level run of the corpus (Integration/Images/HostileLayersThroughTheBinaryTests).
    /// </summary>
    internal static IReadOnlyDictionary<string, (Func<UnpackSandbox, byte[]> Layer, LayerCompression? Compression)> ForTheBinary() =>
        Cases.Values.Where(c => c.Prepare is null && c.Modes.Contains(UnpackMode.OverlayLayer)).ToDictionary(c => c.Name, c => (c.Layer, c.Compression));

    [Fact]
    public void CorpusHasAtLeastFortyNamedCases() => Assert.True(Cases.Count >= 40, $"only {Cases.Count} cases");

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void HostileLayerFailsOrStaysConfined(string name, UnpackMode mode)
    {
        var hostile = Cases[name];
        using var sandbox = new UnpackSandbox();
        hostile.Prepare?.Invoke(sandbox);
        var before = sandbox.SnapshotOutside();
        var escapeMarker = Path.Combine("/", $"{sandbox.Id}-escaped");
        var layer = hostile.Layer(sandbox);
        var warnings = new List<string>();

        Exception? failure = null;
        try
        {
            sandbox.Unpack(layer, mode, hostile.Limits, warnings, hostile.Compression);
        }
        catch (Exception e)
        {
            failure = e;
        }

        var after = sandbox.SnapshotOutside();
        Assert.True(before.Count == after.Count && !before.Except(after).Any(), $"the sentinel tree changed:\n{TreeSnapshot.Diff(before, after)}");
        Assert.False(Path.Exists(escapeMarker), $"{escapeMarker} was created outside the sandbox");
        Assert.False(Path.Exists(Path.Combine(Path.GetTempPath(), $"{sandbox.Id}-escaped")), "a file escaped into the temp directory");

        if (hostile.Expect == Outcome.Fails)
        {
            var error = Assert.IsType<LayerException>(failure);
            Assert.Equal(sandbox.Description, error.Layer);
            Assert.Contains(sandbox.Description, error.Message);
            if (hostile.FailureMentions is not null)
            {
                Assert.Contains(hostile.FailureMentions, error.Message, StringComparison.OrdinalIgnoreCase);
            }
        }
        else
        {
            Assert.True(failure is null, $"expected the layer to be confined, but it failed: {failure}");
            hostile.Confined?.Invoke(sandbox, warnings);
        }
    }

    private static IEnumerable<HostileCase> BuildCases()
    {
        // --- names that climb out or are absolute
        yield return Fails("DotDotEntry", Both, s => new TarBuilder().File($"../{s.Id}-escaped", "evil").Build(), "..");
        yield return Fails("DotDotDeep", Both, s => new TarBuilder().File($"../../../../../../../../../{s.Id}-escaped", "evil").Build(), "..");
        yield return Fails("DotDotInMiddle", Both, s => new TarBuilder().Dir("a").File($"a/../../{s.Id}-escaped", "evil").Build(), "..");
        yield return Fails("DotSlashDotDot", Both, s => new TarBuilder().File($"./../sentinel/target-file", "evil").Build(), "..");
        yield return Fails("DirectoryDotDot", Both, s => new TarBuilder().Dir("../sentinel", mode: 0b111_111_111).Build(), "..");
        yield return Confined("AbsolutePath", Both, s => new TarBuilder().File("/abs-file", "inside").Build(),
            (s, _) => Assert.Equal("inside", File.ReadAllText(s.InRoot("abs-file"))));
        yield return Confined("AbsolutePathNamingTheSentinel", Both, s => new TarBuilder().File(s.SentinelFile, "evil").Build(),
            (s, _) => Assert.Equal("evil", File.ReadAllText(s.InRoot(s.SentinelFile))));
        yield return Fails("DotDotInGnuLongName", Both, s => LongNameLayer($"{new string('a', 120)}/../../../{s.Id}-escaped"), "..");

        // --- symlinks out, then something through them
        yield return Fails("SymlinkAbsoluteOutsideThenFileThrough", Both,
            s => new TarBuilder().Symlink("link", s.Sentinel).File("link/target-file", "evil").Build(), "dangling symlink");
        yield return Confined("SymlinkAbsoluteOutsideLandsInRootMirror", Both,
            s => new TarBuilder().Dir(s.Sentinel).Symlink("link", s.Sentinel).File("link/target-file", "evil").Build(),
            (s, _) => Assert.Equal("evil", File.ReadAllText(s.InRoot(s.SentinelFile))));
        yield return Confined("SymlinkRelativeUpAndOut", Both,
            s => new TarBuilder().Dir("sentinel").Symlink("link", "../sentinel").File("link/target-file", "evil").Build(),
            (s, _) => Assert.Equal("evil", File.ReadAllText(s.InRoot("sentinel/target-file"))));
        yield return Confined("SymlinkManyDotDotsThenAbsolute", Both,
            s => new TarBuilder().Dir(s.Sentinel).Dir("a/b").Symlink("a/b/link", "../../../../../../../.." + s.Sentinel).File("a/b/link/target-file", "evil").Build(),
            (s, _) => Assert.Equal("evil", File.ReadAllText(s.InRoot(s.SentinelFile))));
        yield return Confined("SymlinkChainOfAbsolutes", Both,
            s => new TarBuilder().Dir("etc").Dir("dummy").Symlink("dummy/etc", "/etc").Symlink("localetc", "/dummy/etc").File("localetc/unbroken", "unbroken").Build(),
            (s, _) => Assert.Equal("unbroken", File.ReadAllText(s.InRoot("etc/unbroken"))));
        yield return Fails("SymlinkChainEndingOutside", Both,
            s => new TarBuilder().Symlink("a", "b").Symlink("b", s.Sentinel + "/dir").File("a/inner-file", "evil").Build(), "dangling symlink");
        yield return Fails("SymlinkLoop", Both,
            s => new TarBuilder().Symlink("a", "b").Symlink("b", "a").File("a/x", "evil").Build(), "symlink");
        yield return Confined("SymlinkToRootThenFileThrough", Both,
            s => new TarBuilder().Symlink("up", "../../..").File("up/up/landed", "inside").Build(),
            (s, _) => Assert.Equal("inside", File.ReadAllText(s.InRoot("landed"))));

        // --- symlinks where they must not be
        yield return Fails("SymlinkNamedDot", Both, s => new TarBuilder().Symlink(".", s.Sentinel).Build(), "root directory");
        yield return Fails("SymlinkNamedSlash", Both, s => new TarBuilder().Symlink("/", s.Sentinel).Build(), "root directory");
        yield return Fails("SymlinkNamedDotDot", Both, s => new TarBuilder().Symlink("..", s.Sentinel).Build(), "..");
        yield return Fails("SymlinkNamedSubDotDot", Both, s => new TarBuilder().Symlink("sub/..", "/etc").Hardlink("x", "etc/passwd").Build(), "..");
        yield return Fails("SymlinkWithEmptyName", Both, s => new TarBuilder().Raw(TarBuilder.RawEntry(string.Empty, '2', linkName: s.Sentinel)).Build(), null);
        yield return Fails("SymlinkWithEmptyTarget", Both, s => new TarBuilder().Raw(TarBuilder.RawEntry("empty-link", '2', linkName: string.Empty)).Build(), "empty target");
        yield return Fails("FileNamedDotReplacingRoot", Both, s => new TarBuilder().File("./", "evil").Build(), "root directory");

        // --- chmod/chown/overwrite through a symlink
        yield return Confined("DirectoryRedeclaredOverSymlinkIsNotChmodThroughIt", Both,
            s => new TarBuilder().Symlink("d", s.Sentinel).Dir("d", mode: 0b111_111_111, uid: 1234, gid: 5678).Build(),
            (s, _) => AssertNode(s.InRoot("d"), Interop.S_IFDIR, 0b111_111_111, 1234, 5678));
        yield return Confined("FileOverSymlinkReplacesTheLink", Both,
            s => new TarBuilder().Symlink("victim", s.SentinelFile).File("victim", "evil", mode: 0b111_111_111, uid: 1234).Build(),
            (s, _) => AssertNode(s.InRoot("victim"), Interop.S_IFREG, 0b111_111_111, 1234, 0));
        yield return Confined("SetuidFileOverSymlink", Both,
            s => new TarBuilder().Symlink("s", s.SentinelFile).File("s", "x", mode: 0b100_111_101_101).Build(),
            (s, _) => AssertNode(s.InRoot("s"), Interop.S_IFREG, 0b100_111_101_101, 0, 0));
        yield return Confined("LowerSymlinkDirRedeclaredAsDirectory", ApplyOnly,
            s => new TarBuilder().Dir("d", mode: 0b111_111_111, uid: 1234).File("d/inner-file", "evil").Build(),
            (s, _) =>
            {
                AssertNode(s.InRoot("d"), Interop.S_IFDIR, 0b111_111_111, 1234, 0);
                Assert.Equal("evil", File.ReadAllText(s.InRoot("d/inner-file")));
            },
            prepare: s => File.CreateSymbolicLink(s.InRoot("d"), Path.Combine(s.Sentinel, "dir")));
        yield return Confined("LowerSymlinkFileOverwritten", ApplyOnly,
            s => new TarBuilder().File("f", "new", mode: 0b111_111_111, uid: 4321).Build(),
            (s, _) => AssertNode(s.InRoot("f"), Interop.S_IFREG, 0b111_111_111, 4321, 0),
            prepare: s => File.CreateSymbolicLink(s.InRoot("f"), s.SentinelFile));
        yield return Confined("LowerSymlinkDirectoryOverriddenThenFileInside", ApplyOnly,
            s => new TarBuilder().Dir("localetc").File("localetc/localpasswd", "different").Build(),
            (s, _) =>
            {
                Assert.False(File.Exists(s.InRoot("etc/localpasswd")));
                Assert.Equal("inside", File.ReadAllText(s.InRoot("etc/passwd")));
                AssertNode(s.InRoot("localetc"), Interop.S_IFDIR, 0b111_101_101, 0, 0);
            },
            prepare: s =>
            {
                Directory.CreateDirectory(s.InRoot("etc"));
                File.WriteAllText(s.InRoot("etc/passwd"), "inside");
                File.CreateSymbolicLink(s.InRoot("localetc"), "/etc");
            });

        yield return Fails("CachedParentReplacedBySymlinkMidLayer", Both,
            s => new TarBuilder().Dir("a").File("a/1", "one").Symlink("a", s.Sentinel).File("a/target-file", "evil").Build(), "dangling symlink");
        yield return Confined("DirectoryReplacedBySymlinkBeforeItsTimeIsSet", Both,
            s => new TarBuilder().Dir("d", mtime: new DateTimeOffset(1999, 1, 1, 0, 0, 0, TimeSpan.Zero)).Symlink("d", s.Sentinel).Build(),
            (s, _) => Assert.Equal(s.Sentinel, new FileInfo(s.InRoot("d")).LinkTarget));

        // --- hardlinks
        yield return Fails("HardlinkAbsoluteOutside", Both, s => new TarBuilder().Hardlink("x", s.SentinelFile).Build(), "not a regular file earlier in this layer");
        yield return Fails("HardlinkRelativeOutside", Both, s => new TarBuilder().Hardlink("x", "../sentinel/target-file").Build(), "..");
        yield return Fails("HardlinkToLaterEntry", Both, s => new TarBuilder().Hardlink("x", "later").File("later", "content").Build(), "not a regular file earlier in this layer");
        yield return Fails("HardlinkThroughSymlinkedDirectoryOutside", Both,
            s => new TarBuilder().Symlink("d", s.Sentinel).Hardlink("x", "d/target-file").Build(), "not a regular file earlier in this layer");
        yield return Fails("HardlinkThroughSymlinkedDirectoryInside", Both,
            s => new TarBuilder().File("etc/passwd", "inside").Symlink("l", "etc").Hardlink("x", "l/passwd").Build(), "not a regular file earlier in this layer");
        yield return Fails("HardlinkToSymlink", Both,
            s => new TarBuilder().Symlink("s", s.SentinelFile).Hardlink("x", "s").Build(), "not a regular file earlier in this layer");
        yield return Fails("HardlinkToDirectory", Both, s => new TarBuilder().Dir("d").Hardlink("x", "d").Build(), "not a regular file earlier in this layer");
        yield return Fails("HardlinkToLowerLayerFile", ApplyOnly, s => new TarBuilder().Hardlink("x", "etc/passwd").Build(), "not a regular file earlier in this layer",
            prepare: s =>
            {
                Directory.CreateDirectory(s.InRoot("etc"));
                File.WriteAllText(s.InRoot("etc/passwd"), "lower");
            });
        yield return Fails("HardlinkTargetSwappedForSymlinkedDirectory", Both,
            s => new TarBuilder().File("d/f", "mine").Symlink("d", s.Sentinel).Hardlink("x", "d/f").Build(), "no longer");
        yield return Fails("HardlinkNamedDotDot", Both, s => new TarBuilder().File("f", "mine").Hardlink($"../{s.Id}-escaped", "f").Build(), "..");
        yield return Fails("HardlinkToItself", Both, s => new TarBuilder().File("f", "mine").Hardlink("f", "f").Build(), "itself");

        // --- whiteouts
        yield return Fails("WhiteoutDotDot", Both, s => new TarBuilder().Whiteout(".wh...").Build(), "escape");
        yield return Fails("WhiteoutDot", Both, s => new TarBuilder().Whiteout(".wh..").Build(), "escape");
        yield return Fails("WhiteoutDotInSubdirectory", Both, s => new TarBuilder().Dir("etc").Whiteout("etc/.wh..").Build(), "escape");
        yield return Fails("WhiteoutBare", Both, s => new TarBuilder().Whiteout(".wh.").Build(), "bare");
        yield return Fails("WhiteoutWithDotDotInPath", Both, s => new TarBuilder().Whiteout("dne/../.wh.etc").Build(), "..");
        yield return Fails("WhiteoutThroughSymlinkedParentOutside", Both,
            s => new TarBuilder().Symlink("l", s.Sentinel).Whiteout("l/.wh.target-file").Build(), "symlink");
        yield return Fails("WhiteoutThroughLowerSymlinkedParent", ApplyOnly,
            s => new TarBuilder().Whiteout("l/.wh.passwd").Build(), "symlink",
            prepare: s =>
            {
                Directory.CreateDirectory(s.InRoot("etc"));
                File.WriteAllText(s.InRoot("etc/passwd"), "lower");
                File.CreateSymbolicLink(s.InRoot("l"), "/etc");
            });
        yield return Confined("WhiteoutOfSymlinkRemovesOnlyTheLink", ApplyOnly,
            s => new TarBuilder().Whiteout(".wh.l").Build(),
            (s, _) => Assert.False(Path.Exists(s.InRoot("l"))),
            prepare: s => File.CreateSymbolicLink(s.InRoot("l"), s.Sentinel));
        yield return Confined("WhiteoutOfDirectoryHoldingSymlinkOut", ApplyOnly,
            s => new TarBuilder().Whiteout(".wh.d").Build(),
            (s, _) => Assert.False(Path.Exists(s.InRoot("d"))),
            prepare: s =>
            {
                Directory.CreateDirectory(s.InRoot("d/sub"));
                File.CreateSymbolicLink(s.InRoot("d/link"), s.Sentinel);
                File.CreateSymbolicLink(s.InRoot("d/sub/link"), Path.Combine(s.Sentinel, "dir"));
                File.WriteAllText(s.InRoot("d/file"), "lower");
            });
        yield return Fails("OpaqueUnderSymlink", Both,
            s => new TarBuilder().Symlink("l", s.Sentinel).Whiteout("l/.wh..wh..opq").Build(), "symlink");
        yield return Confined("OpaqueOverDirectoryHoldingSymlinkOut", ApplyOnly,
            s => new TarBuilder().Dir("d").Whiteout("d/.wh..wh..opq").File("d/new", "mine").Build(),
            (s, _) => Assert.Equal(["new"], Directory.EnumerateFileSystemEntries(s.InRoot("d")).Select(Path.GetFileName)),
            prepare: s =>
            {
                Directory.CreateDirectory(s.InRoot("d"));
                File.CreateSymbolicLink(s.InRoot("d/link"), s.Sentinel);
                File.WriteAllText(s.InRoot("d/lower"), "lower");
            });

        // --- devices and fifos
        yield return Fails("DeviceThroughSymlinkedParentOutside", Both,
            s => new TarBuilder().Symlink("l", s.Sentinel).CharDevice("l/null", 1, 3).Build(), "dangling symlink");
        yield return Confined("DeviceThroughSymlinkToRoot", Both,
            s => new TarBuilder().Symlink("l", "/").CharDevice("l/null", 1, 3).Build(),
            (s, _) =>
            {
                var status = Interop.Lstat(s.InRoot("null"));
                Assert.Equal(Interop.S_IFCHR, status.FileType);
                Assert.Equal((1u, 3u), (status.RdevMajor, status.RdevMinor));
            });
        yield return Confined("FifoOverSymlink", Both,
            s => new TarBuilder().Symlink("p", s.SentinelFile).Fifo("p", mode: 0b110_110_110).Build(),
            (s, _) => AssertNode(s.InRoot("p"), Interop.S_IFIFO, 0b110_110_110, 0, 0));

        // --- sizes and shapes
        yield return Confined("DeepNestingWithinLimit", Both,
            s => new TarBuilder().File(string.Join('/', Enumerable.Repeat("d", 1000)) + "/bottom", "deep").Build(),
            (s, _) => Assert.Equal("deep", File.ReadAllText(s.InRoot(string.Join('/', Enumerable.Repeat("d", 1000)) + "/bottom"))));
        yield return Fails("DeepNestingOverLimit", Both,
            s => new TarBuilder().File(string.Join('/', Enumerable.Repeat("d", 3000)) + "/bottom", "deep").Build(), "longer than");
        yield return Fails("VeryLongComponent", Both, s => new TarBuilder().File(new string('n', 300), "x").Build(), "longer than 255");
        yield return Fails("NulInName", Both, s => new TarBuilder().Raw(PaxNamed("a\0/../../escaped", '0')).Build(), "NUL");
        yield return Fails("NulInSymlinkTarget", Both, s => new TarBuilder().Raw(PaxLinked("l", '2', "/etc\0/../../x")).Build(), "NUL");
        yield return Fails("OversizeEntry", Both, s => new TarBuilder().File("big", new byte[2 << 20]).Build(), "exceeds", limits: UnpackLimits.Small);
        yield return Fails("TooManyEntries", Both, s => ManyFiles(1001), "more than 1000 entries", limits: UnpackLimits.Small);
        yield return Fails("TotalSizeOverLimit", Both, s => ManyBigFiles(5, 1 << 20), "exceeds the limit", limits: UnpackLimits.Small);
        yield return Fails("XattrOverLimit", Both,
            s => new TarBuilder().File("f", "x", xattrs: new Dictionary<string, string> { ["user.big"] = new string('v', 2000) }).Build(), "over the limit", limits: UnpackLimits.Small);
        yield return Fails("HugePaxHeaderClaim", Both,
            s => new TarBuilder().Raw(TarBuilder.RawPaxHeader([new("path", "x")], declaredSize: 1L << 33)).Build(), null);
        yield return Fails("GnuSparseEntryIsRefusedNotMisread", Both,
            s => new TarBuilder().Raw([.. TarBuilder.RawPaxHeader([new("GNU.sparse.major", "1"), new("GNU.sparse.minor", "0"), new("GNU.sparse.name", "sparse"), new("GNU.sparse.realsize", "1048576")]), .. TarBuilder.RawEntry("GNUSparseFile.0/sparse", '0', data: "1\n0\n5\nhello"u8.ToArray())]).Build(), "sparse");
        yield return Fails("PaxCommentOverTheHeaderLimit", Both,
            s => new TarBuilder().Raw([.. TarBuilder.RawPaxHeader([new("comment", new string('c', 70_000))]), .. TarBuilder.RawEntry("f", '0', data: "x"u8.ToArray())]).Build(),
            "PAX extended header at offset 0 declares", limits: UnpackLimits.Small);
        yield return Fails("GnuLongNameOverTheHeaderLimit", Both, s => LongNameLayer(new string('n', 70_000)), "GNU long name at offset 0 declares", limits: UnpackLimits.Small);
        yield return Fails("GnuLongLinkNameOverTheHeaderLimit", Both,
            s => new TarBuilder().Raw(TarBuilder.RawEntry("././@LongLink", 'K', data: new byte[70_000])).Raw(TarBuilder.RawEntry("l", '2', linkName: "x")).Build(),
            "GNU long link name at offset 0 declares", limits: UnpackLimits.Small);
        yield return Fails("PaxGlobalHeaderOverTheHeaderLimit", Both,
            s => new TarBuilder().File("first", "1").Raw(TarBuilder.RawEntry("pax_global_header", 'g', data: new byte[70_000])).Build(),
            "PAX global header at offset", limits: UnpackLimits.Small);
        yield return Fails("OversizeHeaderBehindAPaxSizeOverride", Both,
            s => new TarBuilder()
                .Raw([.. TarBuilder.RawPaxHeader([new("size", "1536")]), .. TarBuilder.RawEntry("hidden", '0', data: Enumerable.Repeat((byte)'A', 1536).ToArray(), declaredSize: 0)])
                .Raw(TarBuilder.RawEntry("././@LongLink", 'L', data: new byte[70_000]))
                .Build(),
            "GNU long name at offset 3072 declares", limits: UnpackLimits.Small);
        yield return Fails("NonUtf8NamesThatWouldMerge", Both,
            s => new TarBuilder().Raw(WithNameBytes(TarBuilder.RawEntry("badXXname", '0', data: "1"u8.ToArray()), 0xff, 0xfe)).Raw(WithNameBytes(TarBuilder.RawEntry("badXXname", '0', data: "2"u8.ToArray()), 0xfd, 0xfc)).Build(),
            "bad\\xff\\xfename");
        yield return Fails("NonUtf8PaxPath", Both,
            s => new TarBuilder().Raw([.. TarBuilder.RawPaxHeaderBytes([("path", [(byte)'p', 0xc3, 0x28, (byte)'x'])]), .. TarBuilder.RawEntry("placeholder", '0', data: "x"u8.ToArray())]).Build(),
            "p\\xc3(x");
        yield return Fails("NonUtf8GnuLongName", Both,
            s => new TarBuilder().Raw(TarBuilder.RawEntry("././@LongLink", 'L', data: [.. Encoding.ASCII.GetBytes(new string('l', 150)), 0x80, 0])).Raw(TarBuilder.RawEntry("placeholder", '0', data: "x"u8.ToArray())).Build(),
            "\\x80");
        yield return Fails("NonUtf8SymlinkTarget", Both,
            s => new TarBuilder().Raw([.. TarBuilder.RawPaxHeaderBytes([("linkpath", [(byte)'t', 0xfe])]), .. TarBuilder.RawEntry("link", '2', linkName: "placeholder")]).Build(),
            "t\\xfe");
        yield return Confined("RealReplacementCharacterAndOtherUtf8NamesAreKeptByteExact", Both,
            s => new TarBuilder().File("caf\u00e9-\uFFFD-\u65e5\u672c", "utf8").Build(),
            (s, _) => Assert.Equal("utf8", File.ReadAllText(s.InRoot("caf\u00e9-\uFFFD-\u65e5\u672c"))));
        // A PAX value may hold a newline (records are length-prefixed); TarReader splits at it. Values are
        // kept exactly, names with a newline are refused, and the next entry is found where the lengths say.
        yield return Fails("NewlineInAPaxPath", Both,
            s => new TarBuilder().Raw([.. TarBuilder.RawPaxHeaderBytes([("path", "evil\n10 path=etc/passwd"u8.ToArray())]), .. TarBuilder.RawEntry("placeholder", '0', data: "x"u8.ToArray())]).File("after", "a").Build(),
            "file name holding a newline");
        yield return Fails("NewlineInAPaxLinkpath", Both,
            s => new TarBuilder().Raw([.. TarBuilder.RawPaxHeaderBytes([("linkpath", "/etc\npasswd"u8.ToArray())]), .. TarBuilder.RawEntry("link", '2', linkName: "placeholder")]).File("after", "a").Build(),
            "link name holding a newline");
        yield return Confined("NewlineInAGlobalHeaderCommentIsHarmless", Both,
            s => new TarBuilder().Raw(TarBuilder.RawEntry("pax_global_header", 'g', data: PaxRecords(("comment", "two\nlines"u8.ToArray())))).File("after", "a").Build(),
            (s, _) => Assert.Equal("a", File.ReadAllText(s.InRoot("after"))));
        yield return Confined("XattrValueWithNewlinesThroughGzip", Both,
            s => TarBuilder.Gzip(new TarBuilder()
                .Raw([.. TarBuilder.RawPaxHeaderBytes([("SCHILY.xattr.user.lines", [.. Enumerable.Repeat((byte)'\n', 3000)]), ("mtime", "1600000000"u8.ToArray())]), .. TarBuilder.RawEntry("f", '0', data: "x"u8.ToArray())])
                .File("after", "a")
                .Build()),
            (s, _) =>
            {
                Assert.Equal(Enumerable.Repeat((byte)'\n', 3000), Kubefly.Linux.Interop.GetXattrNoFollow(s.InRoot("f"), "user.lines"));
                Assert.Equal(1600000000, Kubefly.Linux.Interop.Lstat(s.InRoot("f")).ModifySeconds);
            },
            compression: LayerCompression.Gzip);
        yield return Fails("GarbageHeaderChecksumField", Both, s => CorruptChecksum(), "malformed");
        yield return Fails("TruncatedTar", Both, s => new TarBuilder().File("f", new byte[100_000]).Build()[..50_000], "truncated");

        // --- compression
        yield return Fails("DecompressionBombGzipOfZeros", Both, s => TarBuilder.Gzip(new byte[8 << 20]), "exceeds the limit",
            limits: UnpackLimits.Small, compression: LayerCompression.Gzip);
        yield return Fails("DecompressionBombZstdOfZeros", Both, s => TarBuilder.Zstd(new byte[8 << 20]), "exceeds the limit",
            limits: UnpackLimits.Small, compression: LayerCompression.Zstd);
        yield return Fails("DecompressionBombInsideTar", Both, s => TarBuilder.Gzip(new TarBuilder().File("zeros", new byte[8 << 20]).Build()), "exceeds",
            limits: UnpackLimits.Small, compression: LayerCompression.Gzip);
        yield return Fails("TruncatedGzip", Both, s => Cut(TarBuilder.Gzip(RandomLayer())), null, compression: LayerCompression.Gzip);
        yield return Fails("TruncatedZstd", Both, s => Cut(TarBuilder.Zstd(RandomLayer())), null, compression: LayerCompression.Zstd);
        yield return Fails("CorruptGzip", Both, s => Corrupt(TarBuilder.Gzip(RandomLayer())), null, compression: LayerCompression.Gzip);
        // A zstd frame carries no checksum unless asked (the layer digest catches flipped content bytes):
        // corrupt the frame header, which the decoder must refuse.
        yield return Fails("CorruptZstd", Both, s => CorruptFrameHeader(TarBuilder.Zstd(CompressibleLayer())), null, compression: LayerCompression.Zstd);

        // --- overlay metadata forgery
        yield return Confined("ForgedOpaqueXattr", Both,
            s => new TarBuilder().Dir("d", xattrs: new Dictionary<string, string> { ["trusted.overlay.opaque"] = "y" }).Build(),
            (s, warnings) =>
            {
                Assert.Null(Interop.GetXattrNoFollow(s.InRoot("d"), "trusted.overlay.opaque"));
                Assert.Contains(warnings, w => w.Contains("trusted.overlay.opaque", StringComparison.Ordinal));
            });
        yield return Confined("ForgedRedirectXattr", Both,
            s => new TarBuilder().Dir("d", xattrs: new Dictionary<string, string> { ["trusted.overlay.redirect"] = s.Sentinel, ["user.overlay.opaque"] = "y" }).Build(),
            (s, warnings) =>
            {
                Assert.Null(Interop.GetXattrNoFollow(s.InRoot("d"), "trusted.overlay.redirect"));
                Assert.Null(Interop.GetXattrNoFollow(s.InRoot("d"), "user.overlay.opaque"));
                Assert.Equal(2, warnings.Count(w => w.Contains("overlayfs metadata", StringComparison.Ordinal)));
            });
    }

    private static void AssertNode(string path, uint type, uint permissions, uint uid, uint gid)
    {
        var status = Interop.Lstat(path);
        Assert.Equal((type, Convert.ToString(permissions, 8), uid, gid), (status.FileType, Convert.ToString(status.Permissions, 8), status.Uid, status.Gid));
    }

    /// <summary>A raw entry whose name's bytes 3 and 4 ("XX") are replaced (bytes that are not UTF-8).</summary>
    private static byte[] WithNameBytes(byte[] entry, byte first, byte second)
    {
        entry[3] = first;
        entry[4] = second;
        var header = entry[..512];
        TarBuilder.SetChecksum(header);
        header.CopyTo(entry, 0);
        return entry;
    }

    private static byte[] LongNameLayer(string name)
    {
        var data = Encoding.UTF8.GetBytes(name + "\0");
        return new TarBuilder().Raw(TarBuilder.RawEntry("././@LongLink", 'L', data: data)).Raw(TarBuilder.RawEntry("placeholder", '0', data: "evil"u8.ToArray())).Build();
    }

    private static byte[] PaxNamed(string name, char type) =>
        [.. TarBuilder.RawPaxHeader([new("path", name)]), .. TarBuilder.RawEntry("placeholder", type, data: "evil"u8.ToArray())];

    private static byte[] PaxLinked(string name, char type, string linkName) =>
        [.. TarBuilder.RawPaxHeader([new("linkpath", linkName)]), .. TarBuilder.RawEntry(name, type, linkName: "placeholder")];

    private static byte[] ManyFiles(int count)
    {
        var builder = new TarBuilder();
        for (var i = 0; i < count; i++)
        {
            builder.File($"f{i}", "x");
        }

        return builder.Build();
    }

    private static byte[] ManyBigFiles(int count, int size)
    {
        var builder = new TarBuilder();
        for (var i = 0; i < count; i++)
        {
            builder.File($"big{i}", new byte[size - 1024]);
        }

        return builder.Build();
    }

    private static byte[] CorruptChecksum()
    {
        // .NET 10's TarReader does not verify header checksums (the layer digest covers integrity),
        // but a checksum field that is not a number must still fail cleanly.
        var tar = new TarBuilder().File("a", "x").File("b", "y").Build();
        for (var i = 148; i < 154; i++)
        {
            tar[i] = (byte)'z';
        }

        return tar;
    }

    private static byte[] RandomLayer()
    {
        var random = new Random(1234);
        var builder = new TarBuilder();
        for (var i = 0; i < 8; i++)
        {
            var content = new byte[64 * 1024];
            random.NextBytes(content);
            builder.File($"file{i}", content);
        }

        return builder.Build();
    }

    private static byte[] CompressibleLayer()
    {
        var builder = new TarBuilder();
        for (var i = 0; i < 8; i++)
        {
            builder.File($"text{i}", string.Concat(Enumerable.Range(0, 4000).Select(n => $"line {n * i} of file {i}\n")));
        }

        return builder.Build();
    }

    private static byte[] CorruptFrameHeader(byte[] data)
    {
        var copy = (byte[])data.Clone();
        copy.AsSpan(4, 12).Fill(0xff);
        return copy;
    }

    private static byte[] Cut(byte[] data) => data[..(data.Length / 2)];

    private static byte[] Corrupt(byte[] data)
    {
        var copy = (byte[])data.Clone();
        for (var i = copy.Length / 3; i < copy.Length / 3 + 64; i++)
        {
            copy[i] ^= 0x5a;
        }

        return copy;
    }

    private static byte[] PaxRecords(params (string Key, byte[] Value)[] records) =>
        TarBuilder.RawPaxHeaderBytes(records).AsSpan(512, records.Sum(r => PaxRecordLength(r.Key, r.Value))).ToArray();

    private static int PaxRecordLength(string key, byte[] value)
    {
        var payload = 1 + Encoding.UTF8.GetByteCount(key) + 1 + value.Length + 1;
        var length = payload + 1;
        while (length.ToString(System.Globalization.CultureInfo.InvariantCulture).Length + payload != length)
        {
            length = length.ToString(System.Globalization.CultureInfo.InvariantCulture).Length + payload;
        }

        return length;
    }

    private static HostileCase Fails(string name, UnpackMode[] modes, Func<UnpackSandbox, byte[]> layer, string? mentions, UnpackLimits? limits = null, LayerCompression? compression = null, Action<UnpackSandbox>? prepare = null) =>
        new(name, modes, layer, Outcome.Fails, mentions, null, prepare, limits, compression);

    private static HostileCase Confined(string name, UnpackMode[] modes, Func<UnpackSandbox, byte[]> layer, Action<UnpackSandbox, List<string>> check, Action<UnpackSandbox>? prepare = null, LayerCompression? compression = null) =>
        new(name, modes, layer, Outcome.Confined, null, check, prepare, null, compression);

    private enum Outcome
    {
        Fails,
        Confined,
    }

    private sealed record HostileCase(
        string Name,
        UnpackMode[] Modes,
        Func<UnpackSandbox, byte[]> Layer,
        Outcome Expect,
        string? FailureMentions,
        Action<UnpackSandbox, List<string>>? Confined,
        Action<UnpackSandbox>? Prepare,
        UnpackLimits? Limits,
        LayerCompression? Compression);
}
