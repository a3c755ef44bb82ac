using Kubefly.Pods;
using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Unit.Pods;

/// <summary>
/// pod.json's reader and writer are written by hand, so each field of the model is spelled three times:
/// every property of the model, filled by reflection, must survive a write and a read, or the test
/// names the field one of them forgot.
/// </summary>
public sealed class PodRecordFieldsTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("kubefly-podfields-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Every_field_of_the_model_survives_the_hand_written_writer_and_reader()
    {
        var store = new PodStore(dir);
        using var pod = store.Create();
        var written = (PodRecord)RecordFields.Populate(typeof(PodRecord), "pod") with { Uuid = pod.Uuid.Value };
        pod.WriteRecord(written);

        using var reopened = store.Open(pod.Uuid)!;
        var read = reopened.Record!;

        foreach (var (path, expected, actual) in RecordFields.Compare(typeof(PodRecord), written, read, "PodRecord"))
        {
            Assert.Fail($"{path}: wrote {expected}, read back {actual}: the hand-written reader or writer misses it (src/Kubefly.Pods/PodRecord.cs)");
        }
    }
}
