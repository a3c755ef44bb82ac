using Kubefly.Cli.Commands;
using Kubefly.Images.Chunked;
using Kubefly.Oci;

namespace Kubefly.Tests.Unit.Cli;

/// <summary>What auto-update's kubefly_pull_bytes_total counts: layers it fetched, partial ones by what crossed the network.</summary>
public sealed class FetchedBytesTests
{
    [Fact]
    public void Whole_layers_count_their_size_stored_ones_nothing_and_partial_ones_what_was_fetched()
    {
        var whole = Digest.Compute("whole"u8);
        var stored = Digest.Compute("stored"u8);
        var partial = Digest.Compute("partial"u8);
        var bytes = new FetchedBytes();

        bytes.LayerStarted(whole, 1000);
        bytes.LayerFinished(whole, alreadyPresent: false);
        bytes.LayerFinished(stored, alreadyPresent: true);
        bytes.LayerStarted(partial, 50_000);
        bytes.LayerFetchedPartially(partial, new PartialPullReport(50_000, 1_234, 300, 900, 2, 40_000, 10, 1, 9));
        bytes.LayerFinished(partial, alreadyPresent: false);

        Assert.Equal(1000 + 1_234, bytes.Total);
    }
}
