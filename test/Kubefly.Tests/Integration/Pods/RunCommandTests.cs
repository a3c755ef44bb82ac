using System.Diagnostics;
using Kubefly.Pods;
using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Integration.Pods;

/// <summary>
/// The real `run`, end to end: an OCI layout made with umoci around busybox-static, the image store,
/// the fly stage's exec.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RunCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("kubefly-run-it-").FullName;
    private readonly string image;

    public RunCommandTests()
    {
        var layout = Path.Combine(dir, "layout");
        var bundle = Path.Combine(dir, "bundle");
        ProgramRunner.Shell($"""
            umoci init --layout '{layout}'
            umoci new --image '{layout}:latest'
            umoci unpack --image '{layout}:latest' '{bundle}'
            """);
        BusyboxRootfs.WriteTo(Path.Combine(bundle, "rootfs"));
        ProgramRunner.Shell($"""
            umoci repack --image '{layout}:latest' '{bundle}'
            umoci config --image '{layout}:latest' --config.cmd sh --config.env PATH=/bin --config.env FROM_IMAGE=image
            """);
        image = $"oci:{layout}:latest";
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Run_execs_the_app_and_exits_with_its_status_then_status_and_rm_follow()
    {
        var uuidFile = Path.Combine(dir, "pod.uuid");

        var result = Kubefly("run", "--insecure-options=image", $"--uuid-file-save={uuidFile}", "--set-env=FROM_SET=set", image,
            "--exec=/bin/sh", "--", "-c", "echo $FROM_IMAGE $FROM_SET; exit 3");

        Assert.Equal(3, result.ExitCode);
        Assert.Equal("image set\n", result.StandardOutput);
        var uuid = File.ReadAllText(uuidFile);
        Assert.True(PodUuid.TryParse(uuid, out _), uuid);
        Assert.Equal("644", ProgramRunner.Shell($"stat -c %a '{uuidFile}'").Trim());
        var status = Kubefly("status", $"--uuid-file={uuidFile}");
        Assert.StartsWith("state=exited\n", status.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("\nstarted=", status.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("\nexited=true\n", status.StandardOutput, StringComparison.Ordinal);
        Assert.Contains($"\nimage={image}\n", status.StandardOutput, StringComparison.Ordinal);
        var rm = Kubefly("rm", $"--uuid-file={uuidFile}");
        Assert.Equal((0, $"\"{uuid}\"\n"), (rm.ExitCode, rm.StandardOutput));
    }

    [Fact]
    public void A_running_app_holds_the_pod_lock_until_stop_ends_it()
    {
        var uuidFile = Path.Combine(dir, "pod.uuid");
        using var app = Start("run", "--insecure-options=image", $"--uuid-file-save={uuidFile}", image, "--exec=/bin/sleep", "--", "600");
        var uuid = WaitForStart(uuidFile, app);

        Assert.Contains("state=running\n", Kubefly("status", uuid).StandardOutput, StringComparison.Ordinal);
        var entered = Kubefly("enter", uuid, "/bin/sh", "-c", "echo inside; ls /proc/1 >/dev/null && echo procfs");
        Assert.Equal("inside\nprocfs\n", entered.StandardOutput);
        Assert.Equal(254, Kubefly("rm", uuid).ExitCode);

        var stop = Kubefly("stop", uuid);

        Assert.Equal($"\"{uuid}\"\n", stop.StandardOutput);
        app.WaitForExit();
        Assert.Equal(128 + 15, app.ExitCode);
        Assert.StartsWith("state=exited\n", Kubefly("status", uuid).StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void Volumes_are_mounted_read_only_when_asked()
    {
        var host = Directory.CreateDirectory(Path.Combine(dir, "host")).FullName;
        File.WriteAllText(Path.Combine(host, "file"), "from host\n");

        var result = Kubefly("run", "--insecure-options=image", $"--volume=data,kind=host,source={host},readOnly=true", "--mount=volume=data,target=/data",
            image, "--exec=/bin/sh", "--", "-c", "cat /data/file; touch /data/new && echo wrote || echo refused");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("from host\nrefused\n", result.StandardOutput);
        Assert.False(File.Exists(Path.Combine(host, "new")));
    }

    private ProcessResult Kubefly(params string[] arguments) => KubeflyProcess.Run(["--dir", Path.Combine(dir, "data"), .. arguments]);

    private Process Start(params string[] arguments)
    {
        var info = new ProcessStartInfo(KubeflyProcess.BinaryPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "--dir", Path.Combine(dir, "data") }.Concat(arguments))
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info)!;
    }

    private string WaitForStart(string uuidFile, Process app)
    {
        string? uuid = null;
        Wait.Until(
            () =>
            {
                if (app.HasExited)
                {
                    Assert.Fail($"run ended early with {app.ExitCode}: {app.StandardError.ReadToEnd()}");
                }

                uuid = File.Exists(uuidFile) ? File.ReadAllText(uuidFile) : null;
                return uuid is not null && Kubefly("status", uuid).StandardOutput.Contains("\npid=", StringComparison.Ordinal);
            },
            TimeSpan.FromSeconds(60),
            "the pod to start");
        return uuid!;
    }
}
