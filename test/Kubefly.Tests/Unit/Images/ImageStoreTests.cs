using Kubefly.Images.Store;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Unit.Images;

public sealed class ImageStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new("kubefly-store");
    private readonly ImageStore _store;

    public ImageStoreTests()
    {
        _store = new ImageStore(_dir.Path);
        _store.EnsureCreated();
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void PutBlobRefusesContentThatDoesNotMatchItsDigest()
    {
        var wrong = Digest.Compute("other"u8);
        Assert.Throws<DigestMismatchException>(() => _store.PutBlob(wrong, "content"u8));
        Assert.False(_store.HasBlob(wrong));
        _store.PutBlob(Digest.Compute("content"u8), "content"u8);
        Assert.True(_store.HasBlob(Digest.Compute("content"u8)));
    }

    [Fact]
    public void File_tables_of_layers_no_image_names_are_removed_with_them()
    {
        var orphan = Digest.Compute("orphan layer"u8);
        Directory.CreateDirectory(_store.LayerPath(orphan));
        var table = _dir.Combine("table");
        Kubefly.Images.Chunked.LayerFileTable.Write(table, [new("a", 1, Digest.Compute("a"u8))]);
        _store.CommitFileTable(table, orphan);
        Assert.True(File.Exists(_store.FileTablePath(orphan)));

        _store.DeleteUnreferencedContent();

        Assert.False(File.Exists(_store.FileTablePath(orphan)));
        Assert.False(_store.HasLayer(orphan));
    }

    [Fact]
    public void ReadBlobNoticesContentChangedOnDisk()
    {
        var digest = Digest.Compute("content"u8);
        _store.PutBlob(digest, "content"u8);
        File.WriteAllText(_store.BlobPath(digest), "tampered");
        Assert.Throws<DigestMismatchException>(() => _store.ReadBlob(digest));
    }

    [Fact]
    public void FindsImagesByNameInAnyFormAndByUniqueIdPrefix()
    {
        var a = Record('a', "docker.io/library/busybox:latest");
        var b = Record('b', "quay.io/coreos/hyperkube:v1.5.4_coreos.0");
        var c = Record('c');
        _store.WriteRecord(a);
        _store.WriteRecord(b);
        _store.WriteRecord(c with { ManifestDigest = Digest.Parse("sha256:aaaa" + new string('c', 60)) });

        Assert.Equal(a.ManifestDigest, _store.Find("busybox")!.ManifestDigest);
        Assert.Equal(a.ManifestDigest, _store.Find("docker://busybox:latest")!.ManifestDigest);
        Assert.Equal(b.ManifestDigest, _store.Find("quay.io/coreos/hyperkube:v1.5.4_coreos.0")!.ManifestDigest);
        Assert.Equal(b.ManifestDigest, _store.Find("sha256:bbbb")!.ManifestDigest);
        Assert.Equal(b.ManifestDigest, _store.Find("sha256-bbbbbbbb")!.ManifestDigest);
        Assert.Null(_store.Find("busybox:other"));
        var ambiguous = Assert.Throws<ImageException>(() => _store.Find("sha256:aaaa"));
        Assert.Contains("ambiguous", ambiguous.Message);
    }

    [Fact]
    public void PinnedImagesCannotBeRemovedUntilThePodIsGone()
    {
        var record = Record('d', "example.com/x:1");
        _store.WriteRecord(record);
        var pod = _dir.Combine("pods", "run", "uuid-1");
        Directory.CreateDirectory(pod);
        _store.Pin(record.ManifestDigest, "uuid-1", _dir.Combine("pods"));

        // Pods move between state directories; the pin follows the uuid.
        Directory.CreateDirectory(_dir.Combine("pods", "exited-garbage"));
        Directory.Move(pod, _dir.Combine("pods", "exited-garbage", "uuid-1"));
        pod = _dir.Combine("pods", "exited-garbage", "uuid-1");

        var error = Assert.Throws<ImageException>(() => _store.Remove(record));
        Assert.Contains("uuid-1", error.Message);

        // Gone, but the pin is young: a pod may be about to be created under it (run pins first).
        Directory.Delete(pod);
        Assert.Throws<ImageException>(() => _store.Remove(record));

        var pin = Directory.GetFiles(_dir.Combine("images", "pins"), "uuid-1", SearchOption.AllDirectories).Single();
        File.SetLastWriteTimeUtc(pin, DateTime.UtcNow - ImageStore.PinGracePeriod - TimeSpan.FromSeconds(1));
        _store.Remove(record);
        Assert.Null(_store.FindRecord(record.ManifestDigest));
    }

    [Fact]
    public void AbandonedScratchSpaceIsCleanedButLiveScratchIsNot()
    {
        using var live = _store.CreateTempArea();
        File.WriteAllText(Path.Combine(live.Path, "partial"), "x");
        var abandoned = _dir.Combine("images", "tmp", "deadbeef");
        Directory.CreateDirectory(abandoned);
        File.WriteAllText(abandoned + ".lock", string.Empty);

        _store.CleanStaleTemporaries();

        Assert.False(Directory.Exists(abandoned));
        Assert.True(File.Exists(Path.Combine(live.Path, "partial")));
    }

    private static ImageRecord Record(char marker, params string[] names) => new()
    {
        ManifestDigest = Digest.Parse("sha256:" + new string(marker, 64)),
        ConfigDigest = Digest.Parse("sha256:" + new string('f', 64)),
        Names = names,
        Layers = [],
        ImportTime = DateTimeOffset.UtcNow,
        LastUsed = DateTimeOffset.UtcNow,
    };
}
