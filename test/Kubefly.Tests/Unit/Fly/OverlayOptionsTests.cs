using Kubefly.Fly;

namespace Kubefly.Tests.Unit.Fly;

public sealed class OverlayOptionsTests
{
    [Fact]
    public void LowerDirsAreListedTopFirstWithIndexOff()
    {
        var overlay = OverlayOptions.Plan("/r", ["/l/bottom", "/l/middle", "/l/top"], "/p/upper", "/p/work", "/p/links");

        Assert.Equal("lowerdir=/l/top:/l/middle:/l/bottom,upperdir=/p/upper,workdir=/p/work,index=off,volatile", overlay.Data);
        Assert.Null(overlay.WorkingDirectory);
        Assert.Empty(overlay.Links);
    }

    [Fact]
    public void SeparatorsInPathsAreEscaped()
    {
        var overlay = OverlayOptions.Plan("/r", ["/l/a:b,c\\d"], "/p/upper", "/p/work", "/p/links");

        Assert.StartsWith("lowerdir=/l/a\\:b\\,c\\\\d,", overlay.Data, StringComparison.Ordinal);
    }

    [Fact]
    public void TooLongAbsolutePathsBecomeRelativeToTheirCommonDirectory()
    {
        var layers = Enumerable.Range(0, 50).Select(i => $"/var/lib/kubefly/images/layers/sha256-{i:D64}").ToList();

        var overlay = OverlayOptions.Plan("/r", layers, "/p/upper", "/p/work", "/p/links");

        Assert.Equal("/var/lib/kubefly/images/layers", overlay.WorkingDirectory);
        Assert.StartsWith($"lowerdir=sha256-{49:D64}:sha256-{48:D64}:", overlay.Data, StringComparison.Ordinal);
        Assert.True(OverlayOptions.Fits(overlay.Data));
        Assert.Empty(overlay.Links);
    }

    [Fact]
    public void ManyLayersGoThroughShortSymlinks()
    {
        var layers = Enumerable.Range(0, 500).Select(i => $"/var/lib/kubefly/images/layers/sha256-{i:D64}/rootfs").ToList();

        var overlay = OverlayOptions.Plan("/r", layers, "/p/upper", "/p/work", "/p/links");

        Assert.Equal("/p/links", overlay.WorkingDirectory);
        Assert.True(OverlayOptions.Fits(overlay.Data));
        Assert.Equal(500, overlay.Links.Count);
        Assert.Equal(new OverlayLink("0", layers[^1]), overlay.Links[0]);
        Assert.Equal(new OverlayLink("499", layers[0]), overlay.Links[^1]);
        Assert.StartsWith("lowerdir=0:1:2:", overlay.Data, StringComparison.Ordinal);
        Assert.EndsWith(":499,upperdir=/p/upper,workdir=/p/work,index=off,volatile", overlay.Data, StringComparison.Ordinal);
    }

    [Fact]
    public void MoreLayersThanOverlayfsStacksAreRefused()
    {
        var error = Assert.Throws<FlyException>(() => OverlayOptions.Plan("/r", Enumerable.Range(0, 501).Select(i => $"/l/{i}").ToList(), "/u", "/w", "/links"));

        Assert.Contains("at most 500", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("relative")]
    public void RelativeLayerPathsAreRefused(string layer) =>
        Assert.Throws<FlyException>(() => OverlayOptions.Plan("/r", [layer], "/u", "/w", "/links"));

    [Fact]
    public void AnImageWithoutLayersIsRefused() =>
        Assert.Throws<FlyException>(() => OverlayOptions.Plan("/r", [], "/u", "/w", "/links"));
}
