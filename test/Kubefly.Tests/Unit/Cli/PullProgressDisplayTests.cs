using Kubefly.Cli;
using Kubefly.Oci;

namespace Kubefly.Tests.Unit.Cli;

public sealed class PullProgressDisplayTests
{
    private static readonly Digest Layer = Digest.Parse("sha256:" + new string('a', 64));

    /// <summary>It redrew on every read: a fast pull reads thousands of chunks a second, each a terminal update.</summary>
    [Fact]
    public void The_live_display_redraws_at_most_about_ten_times_a_second()
    {
        var output = new StringWriter();
        var display = new PullProgressDisplay(live: true, output);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        display.LayerStarted(Layer, 100_000_000);
        for (var bytes = 0L; bytes < 100_000_000; bytes += 10_000)
        {
            display.LayerAdvanced(Layer, bytes);
        }

        display.LayerFinished(Layer, alreadyPresent: false);
        var redraws = output.ToString().Split('\r').Length - 1 + output.ToString().Split("\u001b[").Length - 1;

        // Start and finish always draw; in between at most one per 100 ms of the loop's run.
        Assert.True(redraws <= 2 * (3 + (int)(clock.Elapsed.TotalMilliseconds / 100)), $"{redraws} redraws for 10,000 reads in {clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.Contains("95.4 MiB", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Without_a_terminal_each_event_is_one_plain_line()
    {
        var output = new StringWriter();
        var display = new PullProgressDisplay(live: false, output);

        display.LayerStarted(Layer, 2048);
        display.LayerAdvanced(Layer, 1024);
        display.LayerFinished(Layer, alreadyPresent: false);

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith($"fetching layer {Layer} (2.0 KiB)", lines[0], StringComparison.Ordinal);
        Assert.StartsWith($"layer {Layer} done: 2.0 KiB", lines[1], StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', output.ToString());
    }

    [Fact]
    public void A_partial_pull_reports_what_it_fetched_and_what_it_reused()
    {
        var output = new StringWriter();
        var display = new PullProgressDisplay(live: false, output);

        display.LayerStarted(Layer, 16 << 20);
        display.LayerFetchedPartially(Layer, new Kubefly.Images.Chunked.PartialPullReport(16 << 20, 272_384, 150_000, 120_000, 2, 50 << 20, 1389, 12, 1380));
        display.LayerFinished(Layer, alreadyPresent: false);

        var line = output.ToString().Split('\n')[1];
        Assert.Contains("partial pull: 266.0 KiB fetched of 16.0 MiB (1.6%) in 2 requests", line, StringComparison.Ordinal);
        Assert.Contains("12 files fetched, 1389 files (50.0 MiB) reused from the store, 1380 tar headers rebuilt", line, StringComparison.Ordinal);
    }
}
