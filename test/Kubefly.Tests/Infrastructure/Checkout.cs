namespace Kubefly.Tests.Infrastructure;

/// <summary>The repository checkout the tests run from (its scripts, docs and build output).</summary>
public static class Checkout
{
    private static readonly Lazy<string> RootDirectory = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "kubefly.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("repository root (kubefly.slnx) not found");
    });

    public static string Root => RootDirectory.Value;
}
