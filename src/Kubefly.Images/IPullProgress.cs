using Kubefly.Images.Chunked;
using Kubefly.Oci;

namespace Kubefly.Images;

/// <summary>What a pull reports as it goes; the command line draws it (live on a terminal, one line per event otherwise).</summary>
public interface IPullProgress
{
    void Message(string text);

    void LayerStarted(Digest blob, long size);

    /// <summary>Called from the layer's worker thread as compressed bytes arrive.</summary>
    void LayerAdvanced(Digest blob, long bytesSoFar);

    void LayerFinished(Digest blob, bool alreadyPresent);

    /// <summary>A zstd:chunked layer was pulled partially: only what the store lacked crossed the network.</summary>
    void LayerFetchedPartially(Digest blob, PartialPullReport report);
}

public sealed class SilentProgress : IPullProgress
{
    public static SilentProgress Instance { get; } = new();

    public void Message(string text)
    {
    }

    public void LayerStarted(Digest blob, long size)
    {
    }

    public void LayerAdvanced(Digest blob, long bytesSoFar)
    {
    }

    public void LayerFinished(Digest blob, bool alreadyPresent)
    {
    }

    public void LayerFetchedPartially(Digest blob, PartialPullReport report)
    {
    }
}
