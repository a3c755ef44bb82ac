using Kubefly.Cli;
using Kubefly.Fly;
using Kubefly.Images;
using Kubefly.Oci;
using Kubefly.Pods;

namespace Kubefly.Tests.Unit.Pods;

/// <summary>`run` up to the exec, with a busybox layer standing in for the image store.</summary>
public sealed class PodRunnerTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("kubefly-podrunner-").FullName;
    private readonly BusyboxImageProvider images = new();
    private readonly PodStore store;

    public PodRunnerTests() => store = new PodStore(dir);

    public void Dispose()
    {
        images.Dispose();
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    [Trait("Requires", "root")]
    public void Prepare_leaves_a_running_pod_and_a_plan_for_the_fly_stage()
    {
        var uuidFile = Path.Combine(dir, "pod.uuid");
        var host = Directory.CreateDirectory(Path.Combine(dir, "host")).FullName;
        var run = RunArgumentsParser.Parse([
            $"--uuid-file-save={uuidFile}", $"--volume=logs,kind=host,source={host},readOnly=true,recursive=true,propagation=rshared",
            "--volume=scratch,kind=empty,mode=0700,uid=1000,gid=1000", "--mount=volume=logs,target=/var/log", "--dns=host",
            "--hosts-entry=host", "--pull-policy=never", "docker://busybox", "--exec=/bin/sh", "--user=1000", "--mount=volume=scratch,target=/scratch",
            "--", "-c", "exit 3"]);

        var launch = new PodRunner(store, images).Prepare(run, InsecureOptions.Image, new Dictionary<string, string>());
        using var pod = launch.Pod;
        var plan = launch.Plan;

        Assert.Equal(("docker://busybox", PullPolicy.Never, InsecureOptions.Image), Assert.Single(images.Requests));
        Assert.Equal(pod.Uuid.Value, File.ReadAllText(uuidFile));
        Assert.Equal("644", Infrastructure.ProgramRunner.Shell($"stat -c %a '{uuidFile}'").Trim());
        using (var seen = store.Open(pod.Uuid)!)
        {
            Assert.Equal(PodState.Running, seen.State);
        }

        Assert.Equal(Path.Combine(dir, "pods", "run", pod.Uuid.Value), plan.PodDirectory);
        Assert.Equal([images.LayerDirectory], plan.LowerDirectories);
        Assert.Equal(Path.Combine(plan.PodDirectory, "overlay", "upper"), plan.UpperDirectory);
        Assert.Equal(Path.Combine(plan.PodDirectory, "overlay", "work"), plan.WorkDirectory);
        Assert.Equal(Path.Combine(plan.PodDirectory, "rootfs"), plan.RootfsDirectory);
        Assert.True(Directory.Exists(plan.UpperDirectory) && Directory.Exists(plan.WorkDirectory) && Directory.Exists(plan.RootfsDirectory));
        Assert.Equal(["/bin/sh", "-c", "exit 3"], plan.Arguments);
        Assert.Equal(["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], plan.Environment);
        Assert.Equal("1000", plan.User);
        Assert.Equal(["host"], plan.Dns!);
        Assert.Equal(["host"], plan.HostsEntries);
        Assert.Equal([pod.LockDescriptor], plan.KeepDescriptors);

        var logs = plan.Mounts.Single(m => m.VolumeName == "logs");
        Assert.Equal((host, "/var/log", true, true, MountPropagation.RShared), (logs.Source, logs.Target, logs.ReadOnly, logs.Recursive, logs.Propagation));
        var scratch = plan.Mounts.Single(m => m.VolumeName == "scratch");
        Assert.Equal(Path.Combine(plan.PodDirectory, "volumes", "scratch"), scratch.Source);
        Assert.Equal("700 1000 1000", Infrastructure.ProgramRunner.Shell($"stat -c '%a %u %g' '{scratch.Source}'").Trim());

        var record = pod.Record!;
        Assert.Equal("busybox", record.AppName);
        Assert.Equal("example.test/library/busybox:latest", record.ImageName);
        Assert.Equal(uuidFile, record.UuidFile);
    }

    [Fact]
    public void An_app_mount_replaces_a_pod_wide_mount_at_the_same_target()
    {
        var run = RunArgumentsParser.Parse(["--volume=a,kind=host,source=/tmp", "--volume=b,kind=host,source=/srv", "--mount=volume=a,target=/x", "img", "--mount=volume=b,target=/x"]);

        var launch = new PodRunner(store, images).Prepare(run, InsecureOptions.None, new Dictionary<string, string>());
        using var pod = launch.Pod;

        Assert.Equal("b", Assert.Single(launch.Plan.Mounts).VolumeName);
    }

    [Fact]
    public void A_failure_while_preparing_moves_the_pod_to_garbage_after_saving_its_uuid()
    {
        var uuidFile = Path.Combine(dir, "pod.uuid");
        using var noCommand = new BusyboxImageProvider(new ContainerConfig());
        var run = RunArgumentsParser.Parse([$"--uuid-file-save={uuidFile}", "img"]);

        var error = Assert.Throws<KubeflyException>(() => new PodRunner(store, noCommand).Prepare(run, InsecureOptions.None, new Dictionary<string, string>()));

        Assert.Contains("has an empty \"exec\"", error.Message, StringComparison.Ordinal);
        var uuid = PodUuid.Parse(File.ReadAllText(uuidFile));
        using var pod = store.Open(uuid)!;
        Assert.Equal(PodState.Garbage, pod.State);
    }

    [Fact]
    public void Systemd_sockets_are_kept_only_when_addressed_to_this_process()
    {
        var environment = new Dictionary<string, string> { ["LISTEN_PID"] = "4242", ["LISTEN_FDS"] = "2" };

        Assert.Equal([3, 4], PodRunner.ListenDescriptors(environment, 4242));
        Assert.Empty(PodRunner.ListenDescriptors(environment, 4243));
        Assert.Empty(PodRunner.ListenDescriptors(new Dictionary<string, string>(), 4242));
    }

    [Fact]
    public void Inherit_env_takes_the_parent_environment_below_the_image_s()
    {
        var run = RunArgumentsParser.Parse(["--inherit-env", "img"]);

        var launch = new PodRunner(store, images).Prepare(run, InsecureOptions.None, new Dictionary<string, string> { ["FROM_PARENT"] = "1", ["PATH"] = "/parent" });
        using var pod = launch.Pod;

        Assert.Equal(["FROM_PARENT=1", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"], launch.Plan.Environment);
    }
}
