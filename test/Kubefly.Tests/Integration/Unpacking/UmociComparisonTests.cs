using System.Text.Json;
using Kubefly.Images.Unpacking;
using Kubefly.Linux;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Unit.Unpacking;

namespace Kubefly.Tests.Integration.Unpacking;

/// <summary>
/// A two-layer OCI image made by umoci around busybox (hardlink, symlinks, device, fifo, xattr, setuid,
/// odd owners; the second layer deletes files and replaces a directory, so umoci writes whiteouts),
/// unpacked by umoci and by us: both trees must be identical, flattened (Apply) and as a real overlay
/// mount of the layers unpacked for overlayfs.
/// </summary>
[Trait("Category", "Integration")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class UmociComparisonTests : IClassFixture<UmociComparisonTests.UmociImage>
{
    // Directory mtimes are left out: umoci and overlayfs both touch them as layers stack.
    private static readonly SnapshotOptions Compared = new() { DirectoryTimes = false, NonDirectoryTimes = true, XattrPrefix = "user." };

    private readonly UmociImage _image;

    public UmociComparisonTests(UmociImage image) => _image = image;

    [Fact]
    public void ApplyModeMatchesUmociUnpack()
    {
        var target = Path.Combine(_image.Work, $"apply-{Guid.NewGuid():N}");
        Directory.CreateDirectory(target);
        var unpacker = new LayerUnpacker(UnpackMode.Apply, UnpackLimits.Default);
        foreach (var layer in _image.Layers)
        {
            using var blob = File.OpenRead(layer.Path);
            using var tar = LayerDecompression.Open(blob, layer.Compression, layer.Digest);
            unpacker.Unpack(tar, target, layer.Digest, CancellationToken.None);
            tar.CopyTo(Stream.Null);
        }

        LayerUnpacker.SyncFilesystem(target);
        AssertSameTree(_image.UmociRootfs, target);
    }

    [Fact]
    public void OverlayOfOverlayModeLayersMatchesUmociUnpack()
    {
        var lowers = new List<string>();
        var unpacker = new LayerUnpacker(UnpackMode.OverlayLayer, UnpackLimits.Default);
        foreach (var layer in _image.Layers)
        {
            var directory = Path.Combine(_image.Work, $"layer-{layer.Digest[7..19]}-{Guid.NewGuid():N}");
            Directory.CreateDirectory(directory);
            using var blob = File.OpenRead(layer.Path);
            using var tar = LayerDecompression.Open(blob, layer.Compression, layer.Digest);
            unpacker.Unpack(tar, directory, layer.Digest, CancellationToken.None);
            lowers.Add(directory);
        }

        // The second layer really carries overlay whiteouts and they are what hides the deleted paths.
        Assert.Equal(Interop.S_IFCHR, Interop.Lstat(Path.Combine(lowers[1], "gone-file")).FileType);

        var merged = Path.Combine(_image.Work, $"merged-{Guid.NewGuid():N}");
        Directory.CreateDirectory(merged);
        lowers.Reverse();
        Interop.Mount("overlay", merged, "overlay", Interop.MS_RDONLY, $"lowerdir={string.Join(':', lowers)},index=off");
        try
        {
            AssertSameTree(_image.UmociRootfs, merged);
        }
        finally
        {
            Interop.Unmount(merged, Interop.MNT_DETACH);
        }
    }

    private static void AssertSameTree(string expectedRoot, string actualRoot)
    {
        var expected = TreeSnapshot.Take(expectedRoot, Compared);
        var actual = TreeSnapshot.Take(actualRoot, Compared);

        // The fixture's own expectations, so an empty or broken umoci tree cannot make this pass.
        Assert.Contains("bin/busybox", expected.Keys);
        Assert.StartsWith("file 4755 0:0", expected["bin/busybox"]);
        Assert.StartsWith("chardev 0644 0:0 dev=1:3", expected["dev/null-dev"]);
        Assert.Contains("xattr:user.x=68656c6c6f", expected["data/attr-file"]);
        Assert.DoesNotContain("gone-file", expected.Keys);
        Assert.DoesNotContain("replaced/sub", expected.Keys);

        Assert.True(expected.Count == actual.Count && !expected.Except(actual).Any(), $"trees differ:\n{TreeSnapshot.Diff(expected, actual)}");
        Assert.Equal(Interop.Lstat(Path.Combine(actualRoot, "bin/busybox")).Inode, Interop.Lstat(Path.Combine(actualRoot, "bin/sh")).Inode);
    }

    public sealed record LayerBlob(string Digest, string Path, LayerCompression Compression);

    /// <summary>Builds the image once for the class (umoci init/new/unpack/repack) and unpacks it with umoci.</summary>
    public sealed class UmociImage : IDisposable
    {
        public UmociImage()
        {
            Work = Path.Combine(Path.GetTempPath(), $"kubefly-umoci-{Guid.NewGuid():N}");
            Directory.CreateDirectory(Work);
            ProgramRunner.Shell($"""
                cd '{Work}'
                umoci init --layout img
                umoci new --image img:test
                umoci unpack --image img:test bundle >/dev/null
                R=bundle/rootfs
                mkdir -p $R/bin $R/etc $R/dev $R/replaced/sub/deeper $R/gone-dir/inner $R/data
                cp /bin/busybox $R/bin/busybox
                ln $R/bin/busybox $R/bin/sh
                ln -s busybox $R/bin/ls
                ln -s /etc/hostname $R/etc/hostname-link
                echo host > $R/etc/hostname
                echo old > $R/replaced/sub/old-file
                echo deeper > $R/replaced/sub/deeper/file
                echo gone > $R/gone-file
                echo x > $R/gone-dir/inner/x
                mknod $R/dev/null-dev c 1 3
                mkfifo $R/data/pipe
                echo attr > $R/data/attr-file
                setfattr -n user.x -v hello $R/data/attr-file
                chmod 4755 $R/bin/busybox
                echo owned > $R/data/owned
                chown 1234:5678 $R/data/owned
                chown -h 1234:5678 $R/bin/ls
                chmod 1777 $R/data
                umoci repack --refresh-bundle --image img:test bundle
                rm -rf $R/gone-file $R/gone-dir $R/replaced
                mkdir -p $R/replaced/newsub
                echo new > $R/replaced/newsub/new-file
                echo changed > $R/etc/hostname
                rm $R/bin/ls
                ln -s sh $R/bin/ls
                umoci repack --image img:test bundle
                umoci unpack --image img:test umoci-unpacked >/dev/null
                """);
            UmociRootfs = Path.Combine(Work, "umoci-unpacked", "rootfs");
            Layers = ReadLayers(Path.Combine(Work, "img"));
        }

        public string Work { get; }

        public string UmociRootfs { get; }

        public IReadOnlyList<LayerBlob> Layers { get; }

        public void Dispose()
        {
            try
            {
                Directory.Delete(Work, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private static List<LayerBlob> ReadLayers(string layout)
        {
            using var index = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(layout, "index.json")));
            var manifestDigest = Digest.Parse(index.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString()!);
            using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(layout, "blobs", "sha256", manifestDigest.Hex)));
            var layers = new List<LayerBlob>();
            foreach (var layer in manifest.RootElement.GetProperty("layers").EnumerateArray())
            {
                var digest = Digest.Parse(layer.GetProperty("digest").GetString()!);
                layers.Add(new LayerBlob(digest.ToString(), Path.Combine(layout, "blobs", "sha256", digest.Hex), MediaTypes.LayerCompressionOf(layer.GetProperty("mediaType").GetString()!)));
            }

            Assert.Equal(2, layers.Count);
            return layers;
        }
    }
}
