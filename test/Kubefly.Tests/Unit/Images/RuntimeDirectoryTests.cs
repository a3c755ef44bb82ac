using Kubefly.Images.Store;

namespace Kubefly.Tests.Unit.Images;

public sealed class RuntimeDirectoryTests
{
    [Fact]
    public void A_state_directory_names_one_runtime_directory_however_its_path_is_spelled()
    {
        var plain = RuntimeDirectory.For("/var/lib/kubefly");

        Assert.Equal(plain, RuntimeDirectory.For("/var/lib/./kubefly/"));
        Assert.Equal(plain, RuntimeDirectory.For("/var/lib/rkt/../kubefly"));
        Assert.Equal(RuntimeDirectory.Base, Path.GetDirectoryName(plain));
        Assert.Matches("^[0-9a-f]{16}$", Path.GetFileName(plain));
    }

    [Theory]
    [InlineData("/var/lib/kubefly", "/var/lib/rkt")]
    [InlineData("/var/lib/kubefly", "/var/lib/kubefly2")]
    [InlineData("/a", "/b")]
    public void Different_state_directories_get_different_runtime_directories(string one, string other)
    {
        Assert.NotEqual(RuntimeDirectory.For(one), RuntimeDirectory.For(other));
    }
}
