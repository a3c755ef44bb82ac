using Kubefly.Oci;
using Kubefly.Pods;

namespace Kubefly.Tests.Unit.Pods;

public sealed class GoDurationTests
{
    [Theory]
    [InlineData("30m0s", 30 * 60.0)]
    [InlineData("24h0m0s", 24 * 3600.0)]
    [InlineData("10s", 10.0)]
    [InlineData("0", 0.0)]
    [InlineData("0s", 0.0)]
    [InlineData("1.5h", 5400.0)]
    [InlineData("1h30m", 5400.0)]
    [InlineData("300ms", 0.3)]
    [InlineData("-2s", -2.0)]
    [InlineData("+2s", 2.0)]
    [InlineData("1500us", 0.0015)]
    public void Parses_go_durations(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), GoDuration.Parse(text));

    [Theory]
    [InlineData("", "time: invalid duration \"\"")]
    [InlineData("10", "time: missing unit in duration \"10\"")]
    [InlineData("10x", "time: unknown unit \"x\" in duration \"10x\"")]
    [InlineData("m", "time: invalid duration \"m\"")]
    [InlineData("1.2.3s", "time: invalid duration \"1.2.3s\"")]
    public void Rejects_what_go_rejects(string text, string message) =>
        Assert.Equal(message, Assert.Throws<InvalidValueException>(() => GoDuration.Parse(text)).Message);

    [Theory]
    [InlineData(30 * 60.0, "30m0s")]
    [InlineData(24 * 3600.0, "24h0m0s")]
    [InlineData(10.0, "10s")]
    [InlineData(0.0, "0s")]
    [InlineData(1.5, "1.5s")]
    [InlineData(0.25, "250ms")]
    [InlineData(3661.0, "1h1m1s")]
    public void Formats_like_go(double seconds, string expected) => Assert.Equal(expected, GoDuration.Format(TimeSpan.FromSeconds(seconds)));
}
