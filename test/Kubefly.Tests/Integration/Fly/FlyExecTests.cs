using Kubefly.Fly;

namespace Kubefly.Tests.Integration.Fly;

/// <summary>What the exec'd app inherits: argv, exactly the plan's environment, descriptors, signals, pid.</summary>
[Trait("Category", "Integration")]
public sealed class FlyExecTests : IDisposable
{
    private readonly FlyWorkspace _workspace = new();

    public void Dispose() => _workspace.Dispose();

    [Fact]
    public void ProbeSeesItsArgvAndExactlyThePlansEnvironment()
    {
        var plan = _workspace.Plan("probe", "first arg", "second") with { Environment = ["PATH=/bin:/", "ONLY=this", "EMPTY="] };

        var result = _workspace.RunThroughShell(plan, "HOST_SECRET=leak exec PLAN");

        Assert.True(result.ExitCode == 0, result.ToString());
        var report = new ProbeReport(result.StandardOutput);
        Assert.Equal("argv: /probe first arg second", report["head"][0]);
        Assert.Equal(["PATH=/bin:/", "ONLY=this", "EMPTY="], report["environ"]);
        Assert.Equal("uid=0(root) gid=0(root)", Assert.Single(report["id"]));
    }

    [Fact]
    public void OnlyStandardAndKeptDescriptorsSurviveExec()
    {
        var plan = _workspace.Plan("/probe") with { KeepDescriptors = [8] };

        // 7 and 8 are inherited without close-on-exec, as from systemd or a careless parent.
        var result = _workspace.RunThroughShell(plan, "exec 7</dev/null 8</dev/null; exec PLAN");

        Assert.True(result.ExitCode == 0, result.ToString());
        // The shell keeps its script open (close-on-exec, at a high descriptor): that one is the probe's own.
        var fds = new ProbeReport(result.StandardOutput)["fds"].Where(fd => !fd.EndsWith(" /probe", StringComparison.Ordinal)).Select(fd => fd.Split(' ')[0]);
        Assert.True(fds.Order(StringComparer.Ordinal).SequenceEqual(["0", "1", "2", "8"]), result.ToString());
    }

    [Fact]
    public void KeepingADescriptorThatIsNotOpenFails()
    {
        var plan = _workspace.Plan("/probe") with { KeepDescriptors = [1009] };

        var result = _workspace.Run(plan);

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("keep descriptor 1009", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("EBADF", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void NoSignalIsIgnoredOrBlockedInTheApp()
    {
        // The runtime ignores SIGPIPE; the shell adds an ignored SIGHUP/SIGUSR1 the harness inherits, and
        // the harness ignores 32, which glibc reserves (its sigaction cannot reset it).
        var result = _workspace.RunThroughShell(_workspace.Plan("/probe"), "trap '' HUP USR1; KUBEFLY_HARNESS_IGNORE_SIGNALS=32 exec PLAN");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"], new ProbeReport(result.StandardOutput)["status"]);
    }

    [Fact]
    public void TheAppsExitCodeIsTheProcessExitCodeAndItsPidAndNamespaceAreRecorded()
    {
        var result = _workspace.Run(_workspace.Plan("sh", "-c", "echo $$; readlink /proc/self/ns/mnt; exit 42"));

        Assert.Equal(42, result.ExitCode);
        var lines = result.StandardOutput.Trim().Split('\n');
        Assert.Equal(lines[0], File.ReadAllText(Path.Combine(_workspace.PodDirectory, "pid")));
        Assert.Equal(lines[1], File.ReadAllText(Path.Combine(_workspace.PodDirectory, "mntns")));
        Assert.NotEqual(new FileInfo("/proc/self/ns/mnt").LinkTarget, lines[1]);
        Assert.False(File.Exists(Path.Combine(_workspace.PodDirectory, "pgid")), "no process group is recorded: stop never signals one");
    }

    [Fact]
    public void TheRunningPodsPidIsTheHarnessProcess()
    {
        var data = _workspace.Volume("data");
        var plan = _workspace.Plan("sh", "-c", "touch /data/ready; exec sleep 600") with
        {
            Mounts = [new FlyMount { Source = data, Target = "/data", VolumeName = "data" }],
        };

        var pod = _workspace.Start(plan, Path.Combine(data, "ready"));

        Assert.Equal(pod.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(_workspace.PodDirectory, "pid")));
    }

    [Fact]
    public void APlanFileWithOnlyTheRequiredFieldsRuns()
    {
        var planFile = _workspace.Combine("minimal.json");
        File.WriteAllText(planFile, $$"""
            {"podDirectory":"{{_workspace.PodDirectory}}","lowerDirectories":["{{BusyboxLayer.Path}}"],
             "upperDirectory":"{{_workspace.UpperDirectory}}","workDirectory":"{{_workspace.Combine("work")}}",
             "rootfsDirectory":"{{_workspace.RootfsDirectory}}","arguments":["/bin/echo","minimal"],"environment":[]}
            """);

        var result = Infrastructure.ProgramRunner.Run(FlyHarnessProcess.DotnetPath, [FlyHarnessProcess.HarnessPath, planFile]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("minimal\n", result.StandardOutput);
    }

    [Fact]
    public void AMissingVolumeSourceIsNamedInTheError()
    {
        var missing = _workspace.Combine("no-such-source");
        var plan = _workspace.Plan("true") with { Mounts = [new FlyMount { Source = missing, Target = "/data", VolumeName = "data" }] };

        var result = _workspace.Run(plan);

        Assert.Equal(254, result.ExitCode);
        Assert.Contains($"fly: volume data: source: open {missing}: No such file or directory", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingLayerFailsTheOverlayMountWithItsOptions()
    {
        var missing = _workspace.Combine("no-such-layer");
        var result = _workspace.Run(_workspace.Plan("true") with { LowerDirectories = [BusyboxLayer.Path, missing] });

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("fly: overlay rootfs: mount overlay on " + _workspace.RootfsDirectory + " (type overlay, flags 0, data lowerdir=" + missing, result.StandardError, StringComparison.Ordinal);
        Assert.Empty(_workspace.HostMountsInside());
    }

    [Fact]
    public void AMissingProgramIsReportedAsAnExecFailure()
    {
        var result = _workspace.Run(_workspace.Plan("no-such-program"));

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("exec no-such-program: No such file or directory", result.StandardError, StringComparison.Ordinal);
        Assert.Empty(_workspace.HostMountsInside());
    }

    [Fact]
    public void WorkingDirectoryIsCreatedAndUsed()
    {
        var result = _workspace.Run(_workspace.Plan("pwd") with { WorkingDirectory = "/srv/app" });

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("/srv/app\n", result.StandardOutput);
    }

    [Fact]
    public void NotifySocketIsBoundAtTheTarget()
    {
        var socketPath = _workspace.Combine("notify.sock");
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(socketPath));
        var plan = _workspace.Plan("sh", "-c", "echo $NOTIFY_SOCKET; [ -S /run/notify ] && echo is-socket") with { NotifySocketTarget = "/run/notify" };

        var result = _workspace.RunThroughShell(plan, $"NOTIFY_SOCKET={socketPath} exec PLAN");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("/run/notify\nis-socket\n", result.StandardOutput);
    }
}
