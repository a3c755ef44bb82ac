using Kubefly.Images.Store;
using Kubefly.Oci;

namespace Kubefly.Tests.Unit.Images;

/// <summary>records/HEX.json through the store: what is written is what is read, damage is named, use is the mtime.</summary>
public sealed class ImageRecordFormatTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("kubefly-records-").FullName;
    private readonly ImageStore store;

    public ImageRecordFormatTests() => store = new ImageStore(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static ImageRecord Record(Digest? index) => new()
    {
        ManifestDigest = Digest.Compute("manifest"u8),
        ManifestMediaType = MediaTypes.DockerManifest,
        IndexDigest = index,
        ConfigDigest = Digest.Compute("config"u8),
        Names = ["quay.io/coreos/hyperkube:v1.5.4_coreos.0", "oci:/tmp/layout:tag"],
        Layers =
        [
            new LayerRecord { Blob = Digest.Compute("blob1"u8), DiffId = Digest.Compute("diff1"u8), MediaType = MediaTypes.DockerLayerGzip, Size = 1234 },
            new LayerRecord { Blob = Digest.Compute("blob2"u8), DiffId = Digest.Compute("diff2"u8), MediaType = MediaTypes.OciLayerZstd, Size = 0 },
        ],
        Platform = "linux/arm/v7",
        ImportTime = new DateTimeOffset(2026, 11, 26, 10, 0, 0, 123, TimeSpan.Zero),
        LastUsed = new DateTimeOffset(2026, 11, 26, 10, 0, 0, 123, TimeSpan.Zero),
        Size = 987654321,
    };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_written_record_reads_back_field_for_field(bool fromAnIndex)
    {
        var written = Record(fromAnIndex ? Digest.Compute("index"u8) : null);
        store.WriteRecord(written);
        File.SetLastWriteTimeUtc(Path.Combine(store.Root, "records", written.ManifestDigest.Hex + ".json"), written.LastUsed.UtcDateTime);

        var read = store.FindRecord(written.ManifestDigest)!;

        Assert.Equal(written.ManifestDigest, read.ManifestDigest);
        Assert.Equal(written.ManifestMediaType, read.ManifestMediaType);
        Assert.Equal(written.IndexDigest, read.IndexDigest);
        Assert.Equal(written.ConfigDigest, read.ConfigDigest);
        Assert.Equal(written.Names, read.Names);
        Assert.Equal(written.Layers, read.Layers);
        Assert.Equal(written.Platform, read.Platform);
        Assert.Equal(written.ImportTime, read.ImportTime);
        Assert.Equal(written.LastUsed, read.LastUsed);
        Assert.Equal(written.Size, read.Size);
    }

    [Fact]
    public void Touch_records_a_use_without_rewriting_the_record()
    {
        var written = Record(index: null);
        store.WriteRecord(written);
        var path = Path.Combine(store.Root, "records", written.ManifestDigest.Hex + ".json");
        File.SetLastWriteTimeUtc(path, written.LastUsed.UtcDateTime);
        var content = File.ReadAllBytes(path);
        var before = DateTimeOffset.UtcNow;

        store.Touch(written.ManifestDigest);

        Assert.InRange(store.FindRecord(written.ManifestDigest)!.LastUsed, before, DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(content, File.ReadAllBytes(path));
    }

    [Theory]
    [InlineData("{}", "manifestDigest")]
    [InlineData("{\"manifestDigest\":\"sha256:00\"}", "invalid digest")]
    [InlineData("not json", "")]
    public void A_damaged_record_is_named_as_corrupt(string content, string reason)
    {
        store.EnsureCreated();
        var digest = Digest.Compute("damaged"u8);
        File.WriteAllText(Path.Combine(store.Root, "records", digest.Hex + ".json"), content);

        // Reported, never thrown: one bad record must not stop the lookup of any other image.
        Assert.Null(store.FindRecord(digest));
        Assert.Empty(store.ListRecords());
        var corrupt = Assert.Single(store.ListCorruptRecords());

        Assert.Equal(Path.Combine(store.Root, "records", digest.Hex + ".json"), corrupt.File);
        Assert.Equal(digest, corrupt.ManifestDigest);
        Assert.Contains(reason, corrupt.Problem, StringComparison.Ordinal);
    }
}
