using Kubefly.Fly;

namespace Kubefly.Tests.Unit.Fly;

public sealed class MountInfoTests
{
    [Fact]
    public void ParsesOptionalFieldsAndEscapedPaths()
    {
        var entry = MountInfo.ParseLine(@"61 27 0:52 /sub\040dir /mnt/with\040space\011tab rw,nosuid shared:12 master:3 - tmpfs my\134source rw,size=4k");

        Assert.Equal(61, entry.MountId);
        Assert.Equal(27, entry.ParentId);
        Assert.Equal("/sub dir", entry.Root);
        Assert.Equal("/mnt/with space\ttab", entry.MountPoint);
        Assert.Equal(["shared:12", "master:3"], entry.OptionalFields);
        Assert.True(entry.IsShared);
        Assert.True(entry.IsSlave);
        Assert.True(entry.HasMountOption("nosuid"));
        Assert.Equal("tmpfs", entry.FileSystemType);
        Assert.Equal(@"my\source", entry.Source);
        Assert.Equal("rw,size=4k", entry.SuperOptions);
    }

    [Fact]
    public void AMountWithoutOptionalFieldsIsPrivate()
    {
        var entry = MountInfo.ParseLine("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard");

        Assert.Empty(entry.OptionalFields);
        Assert.False(entry.IsShared);
        Assert.False(entry.IsSlave);
    }

    [Fact]
    public void AGarbledLineIsAnError() => Assert.Throws<FlyException>(() => MountInfo.ParseLine("27 1 254:0 /"));

    [Fact]
    public void TheCurrentThreadsTableHasARoot() =>
        Assert.Contains(MountInfo.ReadCurrentThread(), e => e.MountPoint == "/");
}
