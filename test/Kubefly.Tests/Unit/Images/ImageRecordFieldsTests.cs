using Kubefly.Images.Store;
using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Unit.Images;

/// <summary>The image record's hand-written reader and writer against every field of its model (see PodRecordFieldsTests).</summary>
public sealed class ImageRecordFieldsTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("kubefly-imagefields-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Every_field_of_the_model_survives_the_hand_written_writer_and_reader()
    {
        var store = new ImageStore(dir);
        store.EnsureCreated();
        var written = (ImageRecord)RecordFields.Populate(typeof(ImageRecord), "image");
        store.WriteRecord(written);

        var read = store.FindRecord(written.ManifestDigest);

        Assert.NotNull(read);
        foreach (var (path, expected, actual) in RecordFields.Compare(typeof(ImageRecord), written, read, "ImageRecord"))
        {
            Assert.Fail($"{path}: wrote {expected}, read back {actual}: the hand-written reader or writer misses it (src/Kubefly.Images/Store/ImageRecord.cs)");
        }
    }
}
