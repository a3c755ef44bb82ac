using Kubefly.Linux;

namespace Kubefly.Images.Store;

/// <summary>
/// A scratch directory under the store's tmp/, owned by one process through a held lock file: a
/// cleaner that can take the lock knows the owner died and may delete the directory.
/// </summary>
public sealed class TempArea : IDisposable
{
    private readonly FileLock _lock;
    private readonly Action<string> _warn;
    private int _counter;

    private TempArea(string path, FileLock fileLock, Action<string> warn)
    {
        Path = path;
        _lock = fileLock;
        _warn = warn;
    }

    public string Path { get; }

    /// <param name="warn">Where a failed cleanup is reported (it never fails the caller's work).</param>
    public static TempArea Create(string tempRoot, Action<string> warn)
    {
        var name = Guid.NewGuid().ToString("N");
        var fileLock = FileLock.Acquire(System.IO.Path.Combine(tempRoot, name + ".lock"));
        var path = System.IO.Path.Combine(tempRoot, name);
        Directory.CreateDirectory(path);
        return new TempArea(path, fileLock, warn);
    }

    /// <summary>A fresh path inside the area (nothing created).</summary>
    public string NewFilePath() => System.IO.Path.Combine(Path, "f" + Interlocked.Increment(ref _counter).ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Deletes the area of <paramref name="lockPath"/> when no process holds its lock; failures are reported, not thrown.</summary>
    public static void DeleteIfAbandoned(string lockPath, Action<string> warn)
    {
        ArgumentNullException.ThrowIfNull(warn);
        using var held = FileLock.TryAcquire(lockPath, exclusive: true, wait: false);
        if (held is not null)
        {
            TryDelete(lockPath[..^".lock".Length], lockPath, warn);
        }
    }

    public void Dispose()
    {
        try
        {
            TryDelete(Path, _lock.Path, _warn);
        }
        finally
        {
            _lock.Dispose();
        }
    }

    /// <summary>
    /// Removes the directory by descriptor (any depth, <see cref="TreeRemover"/>), then its lock file. On
    /// failure the lock file stays, so the next cleaner finds the area again; the caller carries on.
    /// </summary>
    private static void TryDelete(string directory, string lockPath, Action<string> warn)
    {
        try
        {
            TreeRemover.Remove(directory);
            File.Delete(lockPath);
        }
        catch (IOException e)
        {
            warn($"could not remove scratch space {directory}: {e.Message} (left for the next fetch or image gc)");
        }
    }
}
