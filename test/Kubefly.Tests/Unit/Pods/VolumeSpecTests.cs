using Kubefly.Oci;
using Kubefly.Pods;

namespace Kubefly.Tests.Unit.Pods;

public sealed class VolumeSpecTests
{
    private static string Error(string value) => Assert.Throws<InvalidValueException>(() => VolumeSpec.Parse(value)).Message;

    [Fact]
    public void A_host_volume_defaults_to_writable_and_not_recursive()
    {
        var volume = VolumeSpec.Parse("coreos-var-log,kind=host,source=/var/log");

        Assert.Equal("coreos-var-log", volume.Name);
        Assert.Equal(VolumeKind.Host, volume.Kind);
        Assert.Equal("/var/log", volume.Source);
        Assert.False(volume.ReadOnly);
        Assert.False(volume.Recursive);
    }

    [Fact]
    public void Read_only_and_recursive_take_go_booleans()
    {
        var volume = VolumeSpec.Parse("v,kind=host,source=/a,readOnly=true,recursive=1");

        Assert.True(volume.ReadOnly);
        Assert.True(volume.Recursive);
        Assert.Equal("invalid value in --volume flag \"v,kind=host,source=/a,readOnly=yes\": strconv.ParseBool: parsing \"yes\": invalid syntax", Error("v,kind=host,source=/a,readOnly=yes"));
    }

    [Theory]
    [InlineData("Data")]
    [InlineData("data_dir")]
    [InlineData("-data")]
    [InlineData("data-")]
    [InlineData("da--ta")]
    public void Names_must_be_ac_names(string name) =>
        Assert.StartsWith($"invalid value in --volume flag \"{name},kind=host,source=/a\": ACName must", Error($"{name},kind=host,source=/a"), StringComparison.Ordinal);

    [Fact]
    public void Unknown_keys_are_errors() =>
        Assert.Equal("invalid value in --volume flag \"v,kind=host,source=/a,ro=true\": unknown volume parameter \"ro\"", Error("v,kind=host,source=/a,ro=true"));

    [Fact]
    public void A_key_given_twice_is_an_error() =>
        Assert.EndsWith("label source with multiple values", Error("v,kind=host,source=/a,source=/b"), StringComparison.Ordinal);

    [Fact]
    public void A_label_without_value_is_an_error() =>
        Assert.EndsWith("has a label without a value: readOnly", Error("v,kind=host,source=/a,readOnly"), StringComparison.Ordinal);

    [Fact]
    public void Host_source_must_be_given_and_absolute()
    {
        Assert.EndsWith("source for host volume cannot be empty", Error("v,kind=host"), StringComparison.Ordinal);
        Assert.EndsWith("source for host volume must be absolute path", Error("v,kind=host,source=var/log"), StringComparison.Ordinal);
        Assert.EndsWith("mode for host volume cannot be set", Error("v,kind=host,source=/a,mode=0700"), StringComparison.Ordinal);
        Assert.EndsWith("uid for host volume cannot be set", Error("v,kind=host,source=/a,uid=1"), StringComparison.Ordinal);
    }

    [Fact]
    public void Kind_must_be_host_or_empty()
    {
        Assert.EndsWith("unrecognized volume kind: should be one of \"empty\", \"host\"", Error("v,source=/a"), StringComparison.Ordinal);
        Assert.EndsWith("unrecognized volume kind: should be one of \"empty\", \"host\"", Error("v,kind=tmpfs"), StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_volume_has_mode_and_owner()
    {
        var defaults = VolumeSpec.Parse("scratch,kind=empty");
        var custom = VolumeSpec.Parse("scratch,kind=empty,mode=0700,uid=1000,gid=1001");

        Assert.Equal(("0755", 0, 0), (defaults.Mode, defaults.Uid, defaults.Gid));
        Assert.Equal(("0700", 1000, 1001), (custom.Mode, custom.Uid, custom.Gid));
        Assert.EndsWith("source for empty volume must be empty", Error("scratch,kind=empty,source=/a"), StringComparison.Ordinal);
        Assert.EndsWith("must be octal permission bits such as 0755", Error("scratch,kind=empty,mode=rwx"), StringComparison.Ordinal);
        Assert.EndsWith("strconv.Atoi: parsing \"me\": invalid syntax", Error("scratch,kind=empty,uid=me"), StringComparison.Ordinal);
    }

    [Fact]
    public void Propagation_accepts_only_the_three_modes() =>
        Assert.EndsWith("unknown propagation \"shared\": should be one of \"private\", \"rslave\", \"rshared\"", Error("v,kind=host,source=/a,propagation=shared"), StringComparison.Ordinal);
}
