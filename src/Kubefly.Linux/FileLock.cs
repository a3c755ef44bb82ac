using Microsoft.Win32.SafeHandles;

namespace Kubefly.Linux;

/// <summary>An flock(2) on a file, released on dispose. flock (not fcntl) so it survives exec with the fd.</summary>
public sealed class FileLock : IDisposable
{
    private FileLock(SafeFileHandle handle, string path)
    {
        Handle = handle;
        Path = path;
    }

    public SafeFileHandle Handle { get; }

    public string Path { get; }

    public static FileLock Acquire(string path, bool exclusive = true) =>
        TryAcquire(path, exclusive, wait: true) ?? throw new InvalidOperationException("unreachable: blocking lock returned nothing");

    /// <summary>Opens (creating) the file and locks it; null if <paramref name="wait"/> is false and it is held.</summary>
    public static FileLock? TryAcquire(string path, bool exclusive = true, bool wait = false)
    {
        var handle = Interop.Open(path, Interop.O_RDWR | Interop.O_CREAT | Interop.O_NOFOLLOW, 0b110_100_100);
        try
        {
            if (Interop.Flock(handle, exclusive, wait, path))
            {
                return new FileLock(handle, path);
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        handle.Dispose();
        return null;
    }

    public void Dispose() => Handle.Dispose();
}
