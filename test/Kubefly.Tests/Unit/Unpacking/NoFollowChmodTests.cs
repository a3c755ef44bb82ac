using Kubefly.Linux;

namespace Kubefly.Tests.Unit.Unpacking;

/// <summary>The two ways the unpacker sets the mode of nodes it cannot open (devices, fifos) without following a symlink.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class NoFollowChmodTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ChangesAFifoAndRefusesASymlinkWithoutTouchingItsTarget(bool fchmodat2)
    {
        using var sandbox = new UnpackSandbox();
        using var root = Interop.OpenDirectory(sandbox.Root);
        Assert.Equal(0, Interop.TryMknodat(root, "pipe", Interop.S_IFIFO | 0b110_000_000, 0, 0));
        File.CreateSymbolicLink(sandbox.InRoot("link"), sandbox.SentinelFile);

        int Chmod(string name, uint mode) => fchmodat2
            ? Interop.TryFchmodatNoFollow(root, name, mode)
            : Interop.TryChmodThroughPathDescriptor(root, name, mode);

        Assert.Equal(0, Chmod("pipe", 0b100_111_101_101));
        Assert.Equal("4755", Convert.ToString(Interop.Lstat(sandbox.InRoot("pipe")).Permissions, 8));
        Assert.NotEqual(0, Chmod("link", 0b111_111_111));
        Assert.Equal(Convert.ToString(UnpackSandbox.SentinelFileMode, 8), Convert.ToString(Interop.Lstat(sandbox.SentinelFile).Permissions, 8));
    }
}
