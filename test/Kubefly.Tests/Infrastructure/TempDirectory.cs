namespace Kubefly.Tests.Infrastructure;

/// <summary>A unique directory deleted on dispose (tests run in parallel).</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "kubefly-test")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        // By descriptor: tests leave trees deeper than a path string can name.
        Kubefly.Linux.TreeRemover.Remove(Path);
    }
}
