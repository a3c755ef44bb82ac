using System.Diagnostics;
using Kubefly.Images;
using Kubefly.Images.Chunked;
using Kubefly.Oci;

namespace Kubefly.Cli;

/// <summary>
/// Fetch progress on stderr: on a terminal one live line per layer (bytes, rate), redrawn in place;
/// otherwise one plain line per event, fit for the journal.
/// </summary>
public sealed class PullProgressDisplay : IPullProgress
{
    private readonly object _gate = new();
    private readonly bool _live;
    private readonly List<Digest> _order = [];
    private readonly Dictionary<Digest, LayerState> _layers = [];

    /// <summary>Progress between events is drawn at most this often: a fast pull reads thousands of chunks a second.</summary>
    private static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(100);

    private readonly Stopwatch _sinceRedraw = Stopwatch.StartNew();
    private int _drawnLines;

    private readonly TextWriter _output;

    public PullProgressDisplay(bool live, TextWriter? output = null)
    {
        _live = live;
        _output = output ?? Console.Error;
    }

    public static IPullProgress For(bool quiet) =>
        quiet ? SilentProgress.Instance : new PullProgressDisplay(!Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") is not (null or "dumb"));

    public void Message(string text)
    {
        lock (_gate)
        {
            _output.WriteLine(text);
            _drawnLines = 0;
        }
    }

    public void LayerStarted(Digest blob, long size)
    {
        lock (_gate)
        {
            _layers[blob] = new LayerState(size, Stopwatch.StartNew());
            _order.Add(blob);
            if (_live)
            {
                Redraw();
            }
            else
            {
                _output.WriteLine($"fetching layer {blob} ({FormatBytes(size)})");
            }
        }
    }

    public void LayerAdvanced(Digest blob, long bytesSoFar)
    {
        lock (_gate)
        {
            if (_layers.TryGetValue(blob, out var state))
            {
                state.Bytes = bytesSoFar;
                if (_live && _sinceRedraw.Elapsed >= RedrawInterval)
                {
                    Redraw();
                }
            }
        }
    }

    public void LayerFinished(Digest blob, bool alreadyPresent)
    {
        lock (_gate)
        {
            if (alreadyPresent)
            {
                if (!_live)
                {
                    _output.WriteLine($"layer {blob} already in the store");
                }

                return;
            }

            if (_layers.TryGetValue(blob, out var state))
            {
                state.Bytes = state.Size;
                state.Done = true;
                state.Clock.Stop();
                if (_live)
                {
                    Redraw();
                }
                else
                {
                    _output.WriteLine(state.Partial is { } partial
                        ? $"layer {blob} done in {state.Clock.Elapsed.TotalSeconds:0.0}s: {DescribePartial(partial)}"
                        : $"layer {blob} done: {FormatBytes(state.Size)} in {state.Clock.Elapsed.TotalSeconds:0.0}s ({Rate(state)})");
                }
            }
        }
    }

    public void LayerFetchedPartially(Digest blob, PartialPullReport report)
    {
        lock (_gate)
        {
            if (_layers.TryGetValue(blob, out var state))
            {
                state.Partial = report;
            }
        }
    }

    /// <summary>The per-layer account of a partial pull, as fetch prints it.</summary>
    public static string DescribePartial(PartialPullReport report) =>
        $"partial pull: {FormatBytes(report.WireBytes)} fetched of {FormatBytes(report.LayerSize)} ({100.0 * report.WireBytes / Math.Max(report.LayerSize, 1):0.0}%) in {report.Requests} requests, "
        + $"{report.FetchedFiles} files fetched, {report.ReusedFiles} files ({FormatBytes(report.ReusedBytes)}) reused from the store"
        + (report.PredictedGaps > 0 ? $", {report.PredictedGaps} tar headers rebuilt from the stored earlier version" : string.Empty);

    public static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.0} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{bytes / (double)(1L << 10):0.0} KiB",
        _ => $"{bytes} B",
    };

    private static string Rate(LayerState state)
    {
        var seconds = Math.Max(state.Clock.Elapsed.TotalSeconds, 0.001);
        return $"{FormatBytes((long)(state.Bytes / seconds))}/s";
    }

    private void Redraw()
    {
        _sinceRedraw.Restart();
        var text = new System.Text.StringBuilder();
        if (_drawnLines > 0)
        {
            text.Append($"\x1b[{_drawnLines}A");
        }

        foreach (var blob in _order)
        {
            var state = _layers[blob];
            var status = state.Done
                ? state.Partial is { } partial ? $"done, {DescribePartial(partial)}" : "done"
                : $"{FormatBytes(state.Bytes)} / {FormatBytes(state.Size)}";
            text.Append($"\r\x1b[2K{blob.ShortId()}  {status}  {Rate(state)}\n");
        }

        _output.Write(text.ToString());
        _drawnLines = _order.Count;
    }

    private sealed class LayerState(long size, Stopwatch clock)
    {
        public long Size { get; } = size;

        public Stopwatch Clock { get; } = clock;

        public long Bytes { get; set; }

        public bool Done { get; set; }

        public PartialPullReport? Partial { get; set; }
    }
}
