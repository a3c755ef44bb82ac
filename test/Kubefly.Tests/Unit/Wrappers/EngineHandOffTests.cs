using Kubefly.Fly;
using Kubefly.Wrappers;

namespace Kubefly.Tests.Unit.Wrappers;

/// <summary>The hand-off decision against real files: this process's own executable, another program, nothing.</summary>
public sealed class EngineHandOffTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kubefly-handoff-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_symlink_to_this_executable_runs_in_process()
    {
        var self = new FileInfo("/proc/self/exe").LinkTarget!;
        var link = Path.Combine(_directory, "rkt");
        File.CreateSymbolicLink(link, self);

        var decision = EngineHandOff.Decide(link, null);

        Assert.Equal(HandOffKind.InProcess, decision.Kind);
    }

    [Fact]
    public void A_hard_link_to_this_executable_runs_in_process()
    {
        var self = new FileInfo("/proc/self/exe").LinkTarget!;
        var link = Path.Combine(_directory, "rkt");
        var result = Infrastructure.ProgramRunner.Run("ln", [self, link]);
        if (result.ExitCode != 0)
        {
            // Another filesystem: a hard link cannot be made; a copy must then be exec'd.
            File.Copy(self, link);
            Assert.Equal(HandOffKind.Exec, EngineHandOff.Decide(link, null).Kind);
            return;
        }

        Assert.Equal(HandOffKind.InProcess, EngineHandOff.Decide(link, null).Kind);
    }

    [Fact]
    public void Another_program_is_execd()
    {
        var decision = EngineHandOff.Decide("/bin/true", null);

        Assert.Equal(HandOffKind.Exec, decision.Kind);
        Assert.Equal("/bin/true", decision.ExecutablePath);
    }

    [Fact]
    public void A_missing_engine_runs_in_process()
    {
        Assert.Equal(HandOffKind.InProcess, EngineHandOff.Decide(Path.Combine(_directory, "no-rkt-here"), null).Kind);
        Assert.Equal(HandOffKind.InProcess, EngineHandOff.Decide("no-rkt-anywhere", _directory).Kind);
    }

    [Fact]
    public void A_bare_name_is_looked_up_in_path_like_the_shell()
    {
        var program = Path.Combine(_directory, "my-rkt");
        File.WriteAllText(program, "#!/bin/sh\n");
        Assert.Equal(0, Infrastructure.ProgramRunner.Run("chmod", ["0755", program]).ExitCode);

        var decision = EngineHandOff.Decide("my-rkt", $"/nonexistent:{_directory}");

        Assert.Equal(HandOffKind.Exec, decision.Kind);
        Assert.Equal(program, decision.ExecutablePath);
    }
}

public class MountInfoEntryTests
{
    [Fact]
    public void Parses_optional_fields_and_escaped_paths()
    {
        var entry = MountInfo.ParseLine(@"42 27 254:0 /var/lib/kubelet /var/lib/my\040kubelet rw,relatime shared:1 master:7 - ext4 /dev/vda rw,discard");

        Assert.Equal(42, entry.MountId);
        Assert.Equal(27, entry.ParentId);
        Assert.Equal("/var/lib/kubelet", entry.Root);
        Assert.Equal("/var/lib/my kubelet", entry.MountPoint);
        Assert.True(entry.IsShared);
        Assert.True(entry.IsSlave);
        Assert.Equal("ext4", entry.FileSystemType);
        Assert.Equal("/dev/vda", entry.Source);
    }

    [Fact]
    public void A_private_mount_has_no_optional_fields()
    {
        var entry = MountInfo.ParseLine("25 1 0:22 / /run rw,nosuid - tmpfs tmpfs rw,mode=755");

        Assert.False(entry.IsShared);
        Assert.False(entry.IsSlave);
        Assert.Empty(entry.OptionalFields);
    }

    [Fact]
    public void The_top_mount_of_a_stacked_mount_point_decides()
    {
        var entries = new[]
        {
            MountInfo.ParseLine("30 1 0:1 / /var/lib/kubelet rw shared:4 - tmpfs a rw"),
            MountInfo.ParseLine("31 30 0:2 / /var/lib/kubelet rw - tmpfs b rw"),
        };

        Assert.False(HostMountPoints.FindTopMount(entries, "/var/lib/kubelet")!.IsShared);
        Assert.Null(HostMountPoints.FindTopMount(entries, "/var/lib"));
    }

    [Fact]
    public void This_processes_mountinfo_parses_and_has_a_root()
    {
        Assert.Contains(MountInfo.ReadCurrentThread(), entry => entry.MountPoint == "/");
    }

    [Fact]
    public void A_malformed_line_is_refused() => Assert.Throws<FlyException>(() => MountInfo.ParseLine("1 2 3"));
}
