namespace Kubefly.Tests.Integration.Fly;

[Trait("Category", "Integration")]
public sealed class FlyDnsTests : IDisposable
{
    private readonly FlyWorkspace _workspace = new();

    public void Dispose() => _workspace.Dispose();

    [Fact]
    public void DnsHostBindsTheHostsResolvConfReadOnly()
    {
        var result = _workspace.Run(_workspace.Plan("sh", "-c", "cat /etc/resolv.conf; echo x >> /etc/resolv.conf") with { Dns = ["host"] });

        Assert.Equal(File.ReadAllText("/etc/resolv.conf"), result.StandardOutput);
        Assert.Contains("Read-only file system", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void DnsAddressesAreWrittenAsNameservers()
    {
        var result = _workspace.Run(_workspace.Plan("cat", "/etc/resolv.conf") with { Dns = ["10.0.0.53", "fd00::53"] });

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("nameserver 10.0.0.53\nnameserver fd00::53\n", result.StandardOutput);
    }

    [Fact]
    public void AResolvConfSymlinkedOutOfTheImageIsReplacedNotFollowed()
    {
        var hostResolv = File.ReadAllText("/etc/resolv.conf");
        var layer = _workspace.Layer("link", "mkdir etc && ln -s /../../../etc/resolv.conf etc/resolv.conf");

        var result = _workspace.Run(_workspace.Plan("cat", "/etc/resolv.conf") with { Dns = ["10.0.0.53"], LowerDirectories = [BusyboxLayer.Path, layer] });

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("nameserver 10.0.0.53\n", result.StandardOutput);
        Assert.Equal(hostResolv, File.ReadAllText("/etc/resolv.conf"));
    }

    [Fact]
    public void HostsEntriesAreWritten()
    {
        var result = _workspace.Run(_workspace.Plan("cat", "/etc/hosts") with { HostsEntries = ["10.1.2.3=db.example"] });

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("10.1.2.3 db.example\n", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1 localhost\n", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void HostsEntryHostBindsTheHostsFile()
    {
        var result = _workspace.Run(_workspace.Plan("cat", "/etc/hosts") with { HostsEntries = ["host"] });

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(File.ReadAllText("/etc/hosts"), result.StandardOutput);
    }

    [Fact]
    public void DefaultHostsOnlyWhenTheImageHasNone()
    {
        var without = _workspace.Run(_workspace.Plan("cat", "/etc/hosts"));
        Assert.Equal("127.0.0.1 localhost\n", without.StandardOutput);

        using var other = new FlyWorkspace();
        var layer = other.Layer("hosts", "mkdir etc && echo '10.9.9.9 image-host' > etc/hosts");
        var with = other.Run(other.Plan("cat", "/etc/hosts") with { LowerDirectories = [BusyboxLayer.Path, layer] });
        Assert.Equal("10.9.9.9 image-host\n", with.StandardOutput);
    }
}
