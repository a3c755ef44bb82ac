namespace Kubefly.Tests.Integration.Fly;

/// <summary>--user/--group resolved against the image's own /etc/passwd and /etc/group, safely.</summary>
[Trait("Category", "Integration")]
public sealed class FlyUserTests : IDisposable
{
    private readonly FlyWorkspace _workspace = new();

    public void Dispose() => _workspace.Dispose();

    [Theory]
    [InlineData("user", null, "uid=1000(user) gid=1000(user) groups=10(wheel)")]
    [InlineData("1000", null, "uid=1000(user) gid=1000(user) groups=10(wheel)")]
    [InlineData("1000:50", null, "uid=1000(user) gid=50(staff)")]
    [InlineData("user:staff", null, "uid=1000(user) gid=50(staff) groups=10(wheel)")]
    [InlineData("user", "50", "uid=1000(user) gid=50(staff) groups=10(wheel)")]
    [InlineData("4242:4343", null, "uid=4242 gid=4343")]
    [InlineData(null, null, "uid=0(root) gid=0(root)")]
    public void UserAndGroupAreResolvedInTheImage(string? user, string? group, string expected)
    {
        var result = _workspace.Run(_workspace.Plan("id") with { User = user, Group = group });

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(expected + "\n", result.StandardOutput);
    }

    [Fact]
    public void AnUnknownUserNameIsAClearError()
    {
        var result = _workspace.Run(_workspace.Plan("id") with { User = "ghost" });

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("user \"ghost\" not found in the image's /etc/passwd", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownGroupNameIsAClearError()
    {
        var result = _workspace.Run(_workspace.Plan("id") with { User = "user:ghosts" });

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("group \"ghosts\" not found in the image's /etc/group", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void APasswdSymlinkedToAHostFifoIsRefusedWithoutHanging()
    {
        var fifo = _workspace.Combine("host-fifo");
        Infrastructure.ProgramRunner.Shell($"mkfifo {fifo}");
        var layer = _workspace.Layer("evil", $"mkdir etc && ln -s {fifo} etc/passwd");

        var result = _workspace.Run(_workspace.Plan("id") with { User = "user", LowerDirectories = [BusyboxLayer.Path, layer] });

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("/etc/passwd in " + _workspace.RootfsDirectory + " is a symlink, not a regular file", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void APasswdThatIsAFifoIsRefusedWithoutHanging()
    {
        var layer = _workspace.Layer("evil", "mkdir etc && mkfifo etc/passwd");

        var result = _workspace.Run(_workspace.Plan("id") with { User = "user", LowerDirectories = [BusyboxLayer.Path, layer] });

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("is a fifo, not a regular file", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void AHugePasswdIsRefused()
    {
        var layer = _workspace.Layer("huge", "mkdir etc && truncate -s 64M etc/passwd");

        var result = _workspace.Run(_workspace.Plan("id") with { User = "user", LowerDirectories = [BusyboxLayer.Path, layer] });

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("more than the", result.StandardError, StringComparison.Ordinal);
    }
}
