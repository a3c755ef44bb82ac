using Kubefly.Tests.Infrastructure.Systemd;

namespace Kubefly.Tests.Integration.Systemd;

/// <summary>The harness itself: a real systemd starts, reports and stops a unit, and the journal has it.</summary>
[Trait("Category", "Integration")]
public sealed class SystemdContainerTests
{
    private const string Unit = """
        [Unit]
        Description=kubefly harness sleeper

        [Service]
        ExecStartPre=-/bin/false
        ExecStartPre=/bin/sh -c 'echo pre-ran > /run/sleeper.pre'
        ExecStart=/usr/local/bin/busybox sleep 1000
        ExecStop=/bin/sh -c 'echo stopping sleeper; kill $MAINPID'
        """;

    [Fact]
    public void A_trivial_unit_starts_reports_active_stops_and_is_journaled()
    {
        using var container = SystemdContainer.Boot();
        container.CopyIn("/bin/busybox", "/usr/local/bin/busybox");
        container.WriteFile("/etc/systemd/system/sleeper.service", Unit);
        container.Shell("systemctl daemon-reload");

        Assert.Equal("inactive", container.Systemctl("is-active", "sleeper.service").StandardOutput.Trim());

        var start = container.Systemctl("start", "sleeper.service");
        Assert.True(start.ExitCode == 0, start.ToString());
        Assert.Equal("active", container.Systemctl("is-active", "sleeper.service").StandardOutput.Trim());
        Assert.Equal("pre-ran\n", container.Shell("cat /run/sleeper.pre"));

        // The main process is busybox, as a host process (the container's pid namespace is below ours).
        var mainPid = container.Systemctl("show", "-p", "MainPID", "--value", "sleeper.service").StandardOutput.Trim();
        Assert.Contains("busybox", container.Shell($"cat /proc/{mainPid}/cmdline"), StringComparison.Ordinal);

        var stop = container.Systemctl("stop", "sleeper.service");
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Equal("inactive", container.Systemctl("is-active", "sleeper.service").StandardOutput.Trim());

        var journal = container.WaitForJournal("sleeper.service", "stopping sleeper");
        Assert.Contains("Started sleeper.service", journal, StringComparison.Ordinal);
        Assert.Contains("stopping sleeper", journal, StringComparison.Ordinal);
    }

    [Fact]
    public void Shutdown_leaves_no_cgroup_behind_and_a_failed_unit_is_reported_failed()
    {
        string machine;
        using (var container = SystemdContainer.Boot())
        {
            machine = container.MachineName;
            container.WriteFile("/etc/systemd/system/broken.service", "[Service]\nExecStart=/bin/sh -c 'echo about to fail; exit 3'\n");
            container.Shell("systemctl daemon-reload");

            var start = container.Systemctl("start", "broken.service");
            Assert.Equal(0, start.ExitCode);
            container.WaitForJournal("broken.service", "status=3");
            Assert.Equal("failed", container.Systemctl("is-active", "broken.service").StandardOutput.Trim());
            Assert.True(Directory.Exists($"/sys/fs/cgroup/systemd/{machine}"));
        }

        Assert.False(Directory.Exists($"/sys/fs/cgroup/systemd/{machine}"));
        Assert.False(Directory.Exists($"/sys/fs/cgroup/unified/{machine}"));
    }
}
