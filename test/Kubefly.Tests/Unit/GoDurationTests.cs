using Kubefly.Cli;
using Kubefly.Oci;

namespace Kubefly.Tests.Unit;

public class GoDurationTests
{
    [Theory]
    [InlineData("30m0s", 1800)]
    [InlineData("24h0m0s", 86400)]
    [InlineData("10s", 10)]
    [InlineData("1.5h", 5400)]
    [InlineData("0", 0)]
    [InlineData("0s", 0)]
    [InlineData("500ms", 0.5)]
    public void ParsesGoDurations(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), GoDuration.Parse(text, "--grace-period"));

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("ten minutes")]
    [InlineData("5d")]
    [InlineData("1h-2m")]
    public void RejectsAnythingElseAsAUsageError(string text)
    {
        var error = Assert.Throws<UsageException>(() => GoDuration.Parse(text, "--grace-period"));
        Assert.Contains("--grace-period", error.Message);
    }
}
