using Kubefly.Fly;
using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Integration.Fly;

[Trait("Category", "Integration")]
public sealed class FlyVolumeTests : IDisposable
{
    private readonly FlyWorkspace _workspace = new();

    public void Dispose() => _workspace.Dispose();

    [Fact]
    public void ReadOnlyVolumeRefusesWrites()
    {
        var data = _workspace.Volume("data");
        var plan = _workspace.Plan("sh", "-c", "touch /data/new") with
        {
            Mounts = [new FlyMount { Source = data, Target = "/data", ReadOnly = true, VolumeName = "data" }],
        };

        var result = _workspace.Run(plan);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Read-only file system", result.StandardError, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(data, "new")));
    }

    [Fact]
    public void WritableVolumeWritesReachTheHost()
    {
        var data = _workspace.Volume("data");
        var plan = _workspace.Plan("sh", "-c", "echo written > /data/new") with
        {
            Mounts = [new FlyMount { Source = data, Target = "/data", VolumeName = "data" }],
        };

        var result = _workspace.Run(plan);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("written\n", File.ReadAllText(Path.Combine(data, "new")));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SubmountUnderTheSourceIsVisibleOnlyWhenRecursive(bool recursive)
    {
        var data = SourceWithSubmount();
        var plan = _workspace.Plan("cat", "/data/sub/marker") with
        {
            Mounts = [new FlyMount { Source = data, Target = "/data", Recursive = recursive, VolumeName = "data" }],
        };

        var result = _workspace.Run(plan);

        if (recursive)
        {
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Equal("from-submount\n", result.StandardOutput);
        }
        else
        {
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains("No such file or directory", result.StandardError, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ReadOnlyRecursiveVolumeMakesSubmountsReadOnly()
    {
        var data = SourceWithSubmount();
        var plan = _workspace.Plan("sh", "-c", "cat /data/sub/marker; touch /data/sub/new") with
        {
            Mounts = [new FlyMount { Source = data, Target = "/data", ReadOnly = true, Recursive = true, VolumeName = "data" }],
        };

        var result = _workspace.Run(plan);

        Assert.Equal("from-submount\n", result.StandardOutput);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Read-only file system", result.StandardError, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(data, "sub", "new")));
        Assert.DoesNotContain(HostMountTable.Read(), m => m.MountPoint == Path.Combine(data, "sub") && m.HasMountOption("ro"));
    }

    [Fact]
    public void MissingTargetsAreCreatedToMatchTheirSource()
    {
        var directory = _workspace.Volume("dir");
        File.WriteAllText(Path.Combine(directory, "inside"), "dir-content");
        var file = Path.Combine(_workspace.Volume("files"), "config");
        File.WriteAllText(file, "file-content");
        var plan = _workspace.Plan("sh", "-c", "cat /a/b/c/inside; echo; cat /x/y/config.conf; echo; [ -d /a/b/c ] && [ -f /x/y/config.conf ] && echo types-ok") with
        {
            Mounts =
            [
                new FlyMount { Source = directory, Target = "/a/b/c", VolumeName = "dir" },
                new FlyMount { Source = file, Target = "/x/y/config.conf", VolumeName = "file" },
            ],
        };

        var result = _workspace.Run(plan);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("dir-content\nfile-content\ntypes-ok\n", result.StandardOutput);
        Assert.True(Directory.Exists(Path.Combine(_workspace.UpperDirectory, "a", "b", "c")));
        Assert.True(File.Exists(Path.Combine(_workspace.UpperDirectory, "x", "y", "config.conf")));
    }

    [Fact]
    public void NestedVolumesMountShallowFirstWhateverTheirOrder()
    {
        var outer = _workspace.Volume("outer");
        var inner = _workspace.Volume("inner");
        File.WriteAllText(Path.Combine(inner, "marker"), "inner");
        var plan = _workspace.Plan("cat", "/srv/nested/marker") with
        {
            Mounts =
            [
                new FlyMount { Source = inner, Target = "/srv/nested", VolumeName = "inner" },
                new FlyMount { Source = outer, Target = "/srv", VolumeName = "outer" },
            ],
        };

        var result = _workspace.Run(plan);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("inner", result.StandardOutput);
    }

    [Theory]
    [InlineData("/etc")]
    [InlineData("../../etc")]
    [InlineData("../../../../../../../../etc")]
    public void ASymlinkedTargetCannotLeadOutOfTheRootfs(string linkText)
    {
        var sentinel = "kubefly-fly-sentinel-" + Guid.NewGuid().ToString("N")[..8];
        var layer = _workspace.Layer("evil", $"mkdir -p deep/er && ln -s {linkText} deep/er/escape && ln -s {linkText} escape");
        var file = Path.Combine(_workspace.Volume("files"), "content");
        File.WriteAllText(file, "volume-content");
        var hostEtc = Directory.GetFileSystemEntries("/etc").Order(StringComparer.Ordinal).ToList();
        var plan = _workspace.Plan("sh", "-c", $"cat /etc/{sentinel}") with
        {
            LowerDirectories = [BusyboxLayer.Path, layer],
            Mounts =
            [
                new FlyMount { Source = file, Target = $"/escape/{sentinel}", VolumeName = "absolute" },
                new FlyMount { Source = file, Target = $"/deep/er/escape/{sentinel}-2", VolumeName = "relative" },
            ],
        };

        var result = _workspace.Run(plan);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("volume-content", result.StandardOutput);
        Assert.False(File.Exists("/etc/" + sentinel));
        Assert.False(File.Exists($"/etc/{sentinel}-2"));
        Assert.Equal(hostEtc, Directory.GetFileSystemEntries("/etc").Order(StringComparer.Ordinal).ToList());
        Assert.DoesNotContain(HostMountTable.Read(), m => m.MountPoint.StartsWith("/etc", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(_workspace.UpperDirectory, "etc", sentinel)));
    }

    [Theory]
    [InlineData("/made/by/fly")]
    [InlineData("../../../../../../made/by/fly")]
    public void ADanglingSymlinkTargetIsCreatedInsideTheRootfs(string linkText)
    {
        var layer = _workspace.Layer("dangling", $"ln -s {linkText} data");
        var data = _workspace.Volume("data");
        File.WriteAllText(Path.Combine(data, "marker"), "through-the-link");
        var plan = _workspace.Plan("cat", "/made/by/fly/marker") with
        {
            LowerDirectories = [BusyboxLayer.Path, layer],
            Mounts = [new FlyMount { Source = data, Target = "/data", VolumeName = "data" }],
        };

        var result = _workspace.Run(plan);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("through-the-link", result.StandardOutput);
        Assert.True(Directory.Exists(Path.Combine(_workspace.UpperDirectory, "made", "by", "fly")));
        Assert.False(Directory.Exists("/made"));
    }

    [Fact]
    public void ManyLayersStackTopLastInThePlan()
    {
        // Long layer paths, so the options only fit one page through short symlinks.
        var layers = new List<string> { BusyboxLayer.Path };
        for (var i = 0; i < 120; i++)
        {
            layers.Add(_workspace.Layer($"layer-{i:D3}-{new string('x', 40)}", $"echo {i} > which && echo {i} > only-{i}"));
        }

        var plan = _workspace.Plan("sh", "-c", "cat /which /only-0 /only-119") with { LowerDirectories = layers };

        var result = _workspace.Run(plan);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("119\n0\n119\n", result.StandardOutput);
    }

    private string SourceWithSubmount()
    {
        var data = _workspace.Volume("data");
        Directory.CreateDirectory(Path.Combine(data, "sub"));
        ProgramRunner.Shell($"mount -t tmpfs sub-tmpfs {data}/sub && echo from-submount > {data}/sub/marker");
        return data;
    }
}
