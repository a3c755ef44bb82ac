using Kubefly.Linux;

namespace Kubefly.Images.Store;

/// <summary>
/// A scratch directory under the store's tmp/, owned by one process through a held lock file: a
/// cleaner that can take the lock knows the owner died and may delete the directory.
/// </summary>
public sealed class TempArea : IDisposable
{
    private readonly FileLock _lock;
    private int _counter;

    private TempArea(string path, FileLock fileLock)
    {
        Path = path;
        _lock = fileLock;
    }

    public string Path { get; }

    public static TempArea Create(string tempRoot)
    {
        var name = Guid.NewGuid().ToString("N");
        var fileLock = FileLock.Acquire(System.IO.Path.Combine(tempRoot, name + ".lock"));
        var path = System.IO.Path.Combine(tempRoot, name);
        Directory.CreateDirectory(path);
        return new TempArea(path, fileLock);
    }

    /// <summary>A fresh path inside the area (nothing created).</summary>
    public string NewFilePath() => System.IO.Path.Combine(Path, "f" + Interlocked.Increment(ref _counter).ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static void DeleteIfAbandoned(string lockPath)
    {
        using var held = FileLock.TryAcquire(lockPath, exclusive: true, wait: false);
        if (held is null)
        {
            return;
        }

        var directory = lockPath[..^".lock".Length];
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }

        File.Delete(lockPath);
    }

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(Path))
            {
                Directory.Delete(Path, recursive: true);
            }

            File.Delete(_lock.Path);
        }
        finally
        {
            _lock.Dispose();
        }
    }
}
